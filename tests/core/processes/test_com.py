"""Centre-of-mass-free noise and the CoM-free Gaussian process wrapper."""

from __future__ import annotations

import torch

from genforge.core.geometry.com import (
    com_free_dof,
    com_free_gaussian_log_prob,
    com_free_noise,
    graph_mean,
    remove_com,
)
from genforge.core.processes.com import CoMFreeGaussian
from genforge.core.processes.gaussian import VPCosine
from genforge.core.processes.interpolants import LinearInterpolant

F64 = torch.float64


def _batch(sizes: list[int]) -> torch.Tensor:
    return torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))


def test_remove_com_zeroes_every_graph_mean() -> None:
    batch = _batch([1, 4, 7, 2])
    pos = 5.0 + torch.randn(14, 3, generator=torch.Generator().manual_seed(0))
    centred = remove_com(pos, batch, 4)
    assert float(graph_mean(centred, batch, 4).abs().max()) < 1e-6
    assert torch.equal(centred[0], torch.zeros(3))
    assert torch.allclose(pos[1:5] - centred[1:5], pos[1:5].mean(0).expand(4, 3), atol=1e-6)


def test_noise_is_com_free_with_reduced_variance() -> None:
    sizes = [2, 5, 10] * 3000
    batch = _batch(sizes)
    noise = com_free_noise(batch, len(sizes), torch.Generator().manual_seed(1), dtype=F64)
    assert float(graph_mean(noise, batch, len(sizes)).abs().max()) < 1e-12
    node_sizes = torch.tensor(sizes)[batch]
    for size in (2, 5, 10):
        variance = float(noise[node_sizes == size].square().mean())
        assert abs(variance / ((size - 1) / size) - 1.0) < 0.03
    squared_norms = torch.zeros(len(sizes), dtype=F64).index_add_(0, batch, noise.square().sum(-1))
    dof = com_free_dof(batch, len(sizes)).to(F64)
    assert abs(float(squared_norms.mean() / dof.mean()) - 1.0) < 0.02


def test_log_prob_counts_the_subspace_dimensions() -> None:
    """Equal to an isotropic Gaussian log-density in orthonormal coordinates of the CoM-free subspace."""
    n, sigma = 5, 0.7
    single_graph = torch.zeros(n, dtype=torch.long)
    x = remove_com(torch.randn(n, 3, generator=torch.Generator().manual_seed(2), dtype=F64), single_graph)
    centring = torch.eye(n, dtype=F64) - 1.0 / n
    basis = torch.linalg.eigh(centring).eigenvectors[:, 1:]
    coordinates = basis.T @ x
    expected = torch.distributions.Normal(0.0, sigma).log_prob(coordinates).sum()
    log_prob = com_free_gaussian_log_prob(x, single_graph, 1, sigma)
    assert torch.allclose(log_prob, expected.reshape(1), atol=1e-12)


def test_process_translation_and_subspace_properties() -> None:
    process = CoMFreeGaussian(VPCosine())
    generator = torch.Generator().manual_seed(3)
    batch = _batch([3, 6, 4])
    x0 = remove_com(torch.randn(13, 3, generator=generator, dtype=F64), batch)
    noise = process.sample_noise(x0, generator, batch=batch)
    t = torch.rand(3, generator=generator, dtype=F64)[batch]
    x_t = process.corrupt(x0, t, noise)
    assert float(graph_mean(x_t, batch).abs().max()) < 1e-12
    translation = torch.randn(3, 3, generator=generator, dtype=F64)[batch]
    moved = process.corrupt(x0 + translation, t, noise)
    assert torch.allclose(moved - x_t, process.path.alpha(t)[:, None] * translation, atol=1e-12)
    prior = process.prior((13, 3), generator, batch=batch, dtype=F64)
    assert float(graph_mean(prior, batch).abs().max()) < 1e-12


def test_loss_is_per_graph_and_ignores_com_of_the_prediction() -> None:
    process = CoMFreeGaussian(LinearInterpolant())
    generator = torch.Generator().manual_seed(4)
    batch = _batch([2, 5])
    x0 = remove_com(torch.randn(7, 3, generator=generator), batch)
    noise = process.sample_noise(x0, generator, batch=batch)
    t = torch.tensor([0.3, 0.8])[batch]
    target = process.target(x0, noise, t)
    assert torch.allclose(process.loss(target, x0, noise, t, batch=batch), torch.zeros(2), atol=1e-6)
    pred = torch.randn(7, 3, generator=generator)
    shifted = pred + torch.randn(2, 3, generator=generator)[batch]
    loss = process.loss(pred, x0, noise, t, batch=batch)
    assert loss.shape == (2,)
    assert torch.allclose(process.loss(shifted, x0, noise, t, batch=batch), loss, atol=1e-6)
    expected_first = (remove_com(pred, batch)[:2] - target[:2]).square().mean()
    assert torch.allclose(loss[0], expected_first, atol=1e-6)
