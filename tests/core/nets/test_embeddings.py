"""Time and position embeddings."""

from __future__ import annotations

import torch

from genforge.core.nets.embeddings import (
    FourierFeatures,
    GaussianFourierFeatures,
    TimestepEmbedder,
    sinusoidal_embedding,
)

F64 = torch.float64


def test_sinusoidal_embedding_closed_form() -> None:
    t = torch.tensor([0.0, 0.25, 1.0], dtype=F64)
    embedding = sinusoidal_embedding(t, 9)
    assert embedding.shape == (3, 9)
    assert torch.allclose(embedding[0], torch.tensor([1.0] * 4 + [0.0] * 5, dtype=F64))
    assert torch.allclose(embedding[:, 0], torch.cos(1000.0 * t))
    assert torch.allclose(embedding[:, 5], torch.sin(1000.0 * t * 10000.0 ** (-1 / 4)))
    assert torch.equal(embedding[:, 8], torch.zeros(3, dtype=F64))


def test_gaussian_fourier_features_are_unit_pairs_and_seeded() -> None:
    features = GaussianFourierFeatures(2, 16, generator=torch.Generator().manual_seed(0))
    x = torch.rand(5, 2, generator=torch.Generator().manual_seed(1))
    out = features(x)
    assert out.shape == (5, features.out_dim)
    assert torch.allclose(out.square().sum(-1), torch.full((5,), 16.0), atol=1e-4)
    again = GaussianFourierFeatures(2, 16, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again(x), out)


def test_periodic_fourier_features_are_invariant_to_integer_shifts() -> None:
    x = torch.rand(6, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    shift = torch.randint(-3, 4, (6, 3), generator=torch.Generator().manual_seed(3)).to(F64)
    periodic = FourierFeatures(3, 4, periodic=True, include_input=False)
    assert periodic(x).shape == (6, periodic.out_dim) == (6, 24)
    assert torch.allclose(periodic(x + shift), periodic(x), atol=1e-10)
    nerf = FourierFeatures(3, 4, include_input=True)
    assert nerf(x).shape == (6, 27)
    assert not torch.allclose(nerf(x + 0.5), nerf(x), atol=1e-3)


def test_timestep_embedder_separates_times() -> None:
    embedder = TimestepEmbedder(32)
    out = embedder(torch.tensor([0.1, 0.2]))
    assert out.shape == (2, 32)
    assert (out[0] - out[1]).abs().max() > 1e-3
