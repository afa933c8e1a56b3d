"""Distances between sample sets: sliced Wasserstein-2 and RBF maximum mean discrepancy."""

from __future__ import annotations

import torch
from torch import Tensor


def sliced_wasserstein(x: Tensor, y: Tensor, *, num_projections: int = 128,
                       generator: torch.Generator | None = None) -> Tensor:
    """Sliced W2 between ``x [n, d]`` and ``y [m, d]``: root mean of 1-D W2^2 over random directions.

    1-D W2 uses sorted samples at matched quantiles (both sets resampled to min(n, m) quantiles).
    """
    directions = torch.randn(x.shape[1], num_projections, generator=generator, dtype=x.dtype)
    directions = directions / directions.norm(dim=0, keepdim=True)
    size = min(x.shape[0], y.shape[0])
    quantiles = (torch.arange(size, dtype=x.dtype) + 0.5) / size
    px = torch.quantile((x @ directions), quantiles, dim=0)
    py = torch.quantile((y @ directions), quantiles, dim=0)
    return (px - py).square().mean().sqrt()


def mmd_rbf(x: Tensor, y: Tensor, bandwidths: tuple[float, ...] = (0.1, 0.3, 1.0, 3.0)) -> Tensor:
    """Unbiased squared MMD with a sum of RBF kernels exp(-|a - b|^2 / (2 h^2)) over ``bandwidths``."""

    def kernel(a: Tensor, b: Tensor) -> Tensor:
        d2 = torch.cdist(a, b).square()
        return sum(torch.exp(-d2 / (2.0 * h * h)) for h in bandwidths)  # type: ignore[return-value]

    n, m = x.shape[0], y.shape[0]
    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    return ((kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
            + (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1)) - 2.0 * kxy.mean())
