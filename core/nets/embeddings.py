"""Time and position embeddings: sinusoidal, Gaussian Fourier features, deterministic Fourier features.

Time follows the engine convention t in [0, 1] (t = 0 data); sinusoidal features use ``scale * t`` with
``scale = 1000`` by default so the frequencies match networks trained on integer DDPM steps.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn


def sinusoidal_embedding(t: Tensor, dim: int, *, scale: float = 1000.0,
                         max_period: float = 10000.0) -> Tensor:
    """Sinusoidal features of ``scale * t`` (Vaswani et al. 2017, sec. 3.5; ADM's timestep embedding).

    emb = [cos(s t w_k), sin(s t w_k)] with w_k = max_period^(-k / half), k = 0..half-1, half = dim // 2
    (a zero column is appended when ``dim`` is odd).

    Shapes: t ``[B]`` -> ``[B, dim]``.
    """
    half = dim // 2
    frequencies = torch.exp(-math.log(max_period) * torch.arange(half, dtype=t.dtype, device=t.device) / half)
    angles = scale * t[:, None] * frequencies[None, :]
    embedding = torch.cat([angles.cos(), angles.sin()], dim=-1)
    if dim % 2:
        embedding = torch.cat([embedding, torch.zeros_like(embedding[:, :1])], dim=-1)
    return embedding


class TimestepEmbedder(nn.Module):
    """Sinusoidal features followed by a two-layer SiLU MLP (DiT, Peebles & Xie 2023).

    Shapes: t ``[B]`` in [0, 1] -> ``[B, hidden]``.
    """

    def __init__(self, hidden: int, frequency_dim: int = 256, scale: float = 1000.0):
        super().__init__()
        self.frequency_dim = frequency_dim
        self.scale = scale
        self.mlp = nn.Sequential(nn.Linear(frequency_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: Tensor) -> Tensor:
        features = sinusoidal_embedding(t, self.frequency_dim, scale=self.scale)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


class GaussianFourierFeatures(nn.Module):
    """Random Fourier features gamma(v) = [cos(2 pi B v), sin(2 pi B v)] with fixed B ~ N(0, scale^2).

    Tancik et al. 2020, eq. 5; Song et al. 2021 (score SDE) use them for t with scale 16.
    Shapes: ``[..., in_dim]`` -> ``[..., 2 * num_features]``.
    """

    def __init__(self, in_dim: int, num_features: int, *, scale: float = 16.0,
                 generator: torch.Generator | None = None):
        super().__init__()
        self.register_buffer("projection", scale * torch.randn(in_dim, num_features, generator=generator))
        self.out_dim = 2 * num_features

    def forward(self, x: Tensor) -> Tensor:
        angles = 2.0 * math.pi * x @ self.projection.to(x.dtype)
        return torch.cat([angles.cos(), angles.sin()], dim=-1)


class FourierFeatures(nn.Module):
    """Deterministic positional encoding of coordinates (NeRF, Mildenhall et al. 2020, eq. 4).

    Non-periodic: frequencies pi * 2^k, k = 0..K-1. Periodic (fractional coordinates on the torus):
    frequencies 2 pi k, k = 1..K, so the features are invariant to integer shifts (the integer
    multipliers are stored exactly and pi is applied in the input's dtype).
    Shapes: ``[..., in_dim]`` -> ``[..., out_dim]`` with out_dim = 2 K in_dim (+ in_dim with the input).
    """

    def __init__(self, in_dim: int, num_frequencies: int, *, periodic: bool = False,
                 include_input: bool = False):
        super().__init__()
        if periodic:
            multipliers = 2.0 * torch.arange(1, num_frequencies + 1, dtype=torch.float32)
        else:
            multipliers = 2.0 ** torch.arange(num_frequencies, dtype=torch.float32)
        self.register_buffer("multipliers", multipliers)
        self.include_input = include_input
        self.out_dim = 2 * num_frequencies * in_dim + (in_dim if include_input else 0)

    def forward(self, x: Tensor) -> Tensor:
        angles = (math.pi * x[..., None] * self.multipliers.to(x.dtype)).flatten(-2)
        features = [angles.sin(), angles.cos()]
        return torch.cat([x, *features] if self.include_input else features, dim=-1)
