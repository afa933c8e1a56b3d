"""Gaussian mixtures, their exact denoiser and the closed-form Gaussian PF-ODE map."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.processes.gaussian import EDM, VE, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant, TrigInterpolant
from genforge.core.toy import (
    ExactMixtureDenoiser,
    GaussianMixture,
    checkerboard_mixture,
    eight_gaussians_mixture,
    gaussian_pf_ode_map,
)

PROCESSES: list[GaussianPath] = [VPLinear(), VPCosine(), VE(), EDM(), LinearInterpolant(), TrigInterpolant()]
IDS = [type(p).__name__ for p in PROCESSES]


def _mixture() -> GaussianMixture:
    """Three anisotropic components with unequal weights in 2-D (float64)."""
    weights = torch.tensor([0.2, 0.5, 0.3], dtype=torch.float64)
    means = torch.tensor([[-1.0, 0.5], [1.5, -0.5], [0.0, 2.0]], dtype=torch.float64)
    stds = torch.tensor([[0.3, 0.6], [0.5, 0.2], [0.4, 0.4]], dtype=torch.float64)
    return GaussianMixture(weights, means, stds)


def _times(n: int) -> torch.Tensor:
    return torch.rand(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.98 + 0.01


def test_constructor_validates_and_normalises() -> None:
    mixture = GaussianMixture(torch.tensor([1.0, 3.0]), torch.zeros(2, 3), torch.tensor([0.5, 1.0]))
    torch.testing.assert_close(mixture.weights, torch.tensor([0.25, 0.75]))
    assert mixture.stds.shape == (2, 3) and mixture.dim == 3
    with pytest.raises(ValueError, match="expected"):
        GaussianMixture(torch.ones(3), torch.zeros(2, 3), torch.ones(2))
    with pytest.raises(ValueError, match="> 0"):
        GaussianMixture(torch.ones(2), torch.zeros(2, 3), torch.tensor([0.5, 0.0]))


def test_samples_have_the_mixture_moments() -> None:
    mixture = _mixture()
    samples = mixture.sample(200_000, torch.Generator().manual_seed(1))
    mean = (mixture.weights[:, None] * mixture.means).sum(0)
    second = (mixture.weights[:, None] * (mixture.means.square() + mixture.stds.square())).sum(0)
    torch.testing.assert_close(samples.mean(0), mean, atol=0.01, rtol=0.0)
    torch.testing.assert_close(samples.var(0), second - mean.square(), atol=0.02, rtol=0.0)


def test_log_prob_matches_torch_distributions() -> None:
    mixture = _mixture()
    reference = torch.distributions.MixtureSameFamily(
        torch.distributions.Categorical(probs=mixture.weights),
        torch.distributions.Independent(torch.distributions.Normal(mixture.means, mixture.stds), 1))
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 2
    torch.testing.assert_close(mixture.log_prob(x), reference.log_prob(x))


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_denoiser_satisfies_tweedie(process: GaussianPath) -> None:
    """E[x0 | x_t] = (x_t + sigma^2 grad log p_t(x_t)) / alpha with p_t the noised mixture (autograd)."""
    mixture = _mixture()
    t = _times(64)
    x = torch.randn(64, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2
    alpha, sigma = process.alpha(t)[:, None], process.sigma(t)[:, None]
    x0, eps = ExactMixtureDenoiser(mixture, process).x0_eps(x, t)
    leaf = x.clone().requires_grad_(True)
    log_p = torch.logsumexp(mixture.component_log_probs(leaf, alpha[:, :, None], sigma[:, :, None]), dim=1)
    (score,) = torch.autograd.grad(log_p.sum(), leaf)
    torch.testing.assert_close(x0, (x + sigma.square() * score) / alpha)
    torch.testing.assert_close(eps, -sigma * score)
    torch.testing.assert_close(alpha * x0 + sigma * eps, x)


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_denoiser_is_exact_and_finite_at_the_ends(process: GaussianPath) -> None:
    mixture = _mixture()
    denoiser = ExactMixtureDenoiser(mixture, process)
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    for t_end in (0.0, 1.0):
        x0, eps = denoiser.x0_eps(x, torch.full((16,), t_end, dtype=torch.float64))
        assert torch.isfinite(x0).all() and torch.isfinite(eps).all()
    x0, eps = denoiser.x0_eps(x, torch.zeros(16, dtype=torch.float64))
    if float(process.sigma(torch.tensor(0.0))) == 0.0:
        torch.testing.assert_close(x0, x)
        torch.testing.assert_close(eps, torch.zeros_like(x))
    if float(process.alpha(torch.tensor(1.0))) == 0.0:
        x0, eps = denoiser.x0_eps(x, torch.ones(16, dtype=torch.float64))
        torch.testing.assert_close(x0, (mixture.weights[:, None] * mixture.means).sum(0).expand_as(x))
        torch.testing.assert_close(eps, x / process.sigma(torch.tensor(1.0, dtype=torch.float64)))


def test_denoiser_keeps_shape_and_dtype() -> None:
    denoiser = ExactMixtureDenoiser(_mixture(), VPLinear())
    x = torch.randn(5, 1, 2)
    x0, eps = denoiser.x0_eps(x, torch.full((5,), 0.5))
    assert x0.shape == eps.shape == (5, 1, 2) and x0.dtype == torch.float32


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_gaussian_pf_ode_map_solves_the_probability_flow_ode(process: GaussianPath) -> None:
    """d/dt of the map equals the exact velocity, and the map composes (t -> s -> r = t -> r)."""
    mean = torch.tensor([0.7, -1.2], dtype=torch.float64)
    std = torch.tensor([0.4, 1.3], dtype=torch.float64)
    gaussian = GaussianMixture(torch.ones(1, dtype=torch.float64), mean[None], std[None])
    denoiser = ExactMixtureDenoiser(gaussian, process)
    x = torch.randn(32, 2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    t, s, r, dt = 0.7, 0.4, 0.1, 1e-6
    x_s = gaussian_pf_ode_map(process, mean, std, x, t, s)
    torch.testing.assert_close(gaussian_pf_ode_map(process, mean, std, x_s, s, r),
                               gaussian_pf_ode_map(process, mean, std, x, t, r))
    derivative = (gaussian_pf_ode_map(process, mean, std, x, t, s + dt)
                  - gaussian_pf_ode_map(process, mean, std, x, t, s - dt)) / (2 * dt)
    torch.testing.assert_close(derivative, denoiser.velocity(x_s, torch.full((32,), s, dtype=torch.float64)),
                               rtol=1e-6, atol=1e-6)


def test_eight_gaussians_layout() -> None:
    mixture = eight_gaussians_mixture(radius=2.0, std=0.15)
    torch.testing.assert_close(mixture.means.norm(dim=1), torch.full((8,), 2.0, dtype=torch.float64))
    angles = torch.atan2(mixture.means[:, 1], mixture.means[:, 0]).remainder(2 * math.pi).sort().values
    torch.testing.assert_close(angles.diff(), torch.full((7,), math.pi / 4, dtype=torch.float64))


def test_checkerboard_means_are_the_dark_square_centres() -> None:
    """Centres (c - 1.5, r - 1.5) of a 4x4 board on [-2, 2]^2 with c + r even (eight distinct)."""
    means = checkerboard_mixture().means
    cells = means + 1.5
    assert torch.equal(cells, cells.round()) and ((cells >= 0) & (cells <= 3)).all()
    assert (cells.sum(dim=1).remainder(2) == 0).all()
    assert len({tuple(m.tolist()) for m in means}) == 8
