"""Exact Gaussian denoisers, a tiny nonlinear network and finite differences for the guidance tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.processes.gaussian import GaussianPath


def gaussian_x0_eps(x_t: Tensor, alpha: Tensor, sigma: Tensor, mean: Tensor,
                    cov: Tensor) -> tuple[Tensor, Tensor]:
    """Exact (E[x0 | x_t], E[eps | x_t]) for x0 ~ N(mean, cov) on the flattened sample.

    x_t ``[B, ...]``, alpha/sigma ``[B]``, mean ``[D]`` or ``[B, D]``, cov ``[D, D]`` (D: sample size).
    With K = alpha^2 cov + sigma^2 I and c = x - alpha mean: x0 = mean + alpha cov K^-1 c, eps = sigma K^-1 c.
    """
    flat = x_t.reshape(x_t.shape[0], -1)
    eye = torch.eye(flat.shape[1], dtype=flat.dtype)
    gram = alpha[:, None, None] ** 2 * cov + sigma[:, None, None] ** 2 * eye
    centred = flat - alpha[:, None] * mean
    solved = torch.linalg.solve(gram, centred)
    x0 = mean + alpha[:, None] * solved @ cov.T
    eps = sigma[:, None] * solved
    return x0.reshape(x_t.shape), eps.reshape(x_t.shape)


@dataclass
class ExactGaussian(Denoiser):
    """Bayes-optimal denoiser of N(mean, cov) under ``process``."""

    process: GaussianPath
    mean: Tensor
    cov: Tensor

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        alpha, sigma = self.process.alpha(t).to(x_t.dtype), self.process.sigma(t).to(x_t.dtype)
        return gaussian_x0_eps(x_t, alpha, sigma, self.mean, self.cov)


@dataclass
class CountingEpsModel:
    """``model(x_t, t, cond)``: exact eps of N(cond, cov), cond = per-sample mean ``[B, D]``; counts calls."""

    process: GaussianPath
    cov: Tensor
    calls: int = 0

    def __call__(self, x_t: Tensor, t: Tensor, cond: Tensor) -> Tensor:
        self.calls += 1
        alpha, sigma = self.process.alpha(t).to(x_t.dtype), self.process.sigma(t).to(x_t.dtype)
        return gaussian_x0_eps(x_t, alpha, sigma, cond, self.cov)[1]


def correlated_cov(dim: int, generator: torch.Generator) -> Tensor:
    """A well-conditioned random SPD covariance ``[dim, dim]`` (float64)."""
    root = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return root @ root.T / dim + 0.2 * torch.eye(dim, dtype=torch.float64)


@dataclass
class TinyMLP:
    """Nonlinear ``model(x_t [B, D], t [B], cond [B, C] | None) -> [B, D]``, fixed random float64 weights."""

    dim: int
    cond_dim: int
    generator: torch.Generator
    hidden: int = 16

    def __post_init__(self) -> None:
        fan_in = self.dim + 1 + self.cond_dim
        self.w_in = self._draw(fan_in, self.hidden) / fan_in**0.5
        self.w_out = self._draw(self.hidden, self.dim) / 4.0

    def _draw(self, rows: int, cols: int) -> Tensor:
        return torch.randn(rows, cols, generator=self.generator, dtype=torch.float64)

    def __call__(self, x_t: Tensor, t: Tensor, cond: Tensor | None) -> Tensor:
        cond = torch.zeros(x_t.shape[0], self.cond_dim, dtype=x_t.dtype) if cond is None else cond
        return torch.tanh(torch.cat([x_t, t[:, None].to(x_t.dtype), cond], dim=1) @ self.w_in) @ self.w_out


def finite_difference_grad(fn: Callable[[Tensor], Tensor], x: Tensor, step: float = 1e-6) -> Tensor:
    """Central differences of a per-sample ``fn: [B, D] -> [B]`` w.r.t. each coordinate of ``x``."""
    grad = torch.zeros_like(x)
    for j in range(x.shape[1]):
        bump = torch.zeros_like(x)
        bump[:, j] = step
        grad[:, j] = (fn(x + bump) - fn(x - bump)) / (2 * step)
    return grad
