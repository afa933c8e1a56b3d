"""A Gaussian prior with its exact denoiser and the exact posterior of a linear-Gaussian measurement."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.processes.gaussian import GaussianPath, VPLinear


@dataclass
class GaussianDenoiser(Denoiser):
    """Exact E[x0 | x_t] for x0 ~ N(mean, cov) on the path x_t = alpha x0 + sigma eps (``[B, d]``)."""

    mean: Tensor
    cov: Tensor
    process: GaussianPath

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        alpha = self.process.alpha(t).to(x_t.dtype)[:, None, None]
        sigma = self.process.sigma(t).to(x_t.dtype)[:, None, None]
        eye = torch.eye(self.mean.numel(), dtype=x_t.dtype)
        gain = alpha * self.cov @ torch.linalg.inv(alpha ** 2 * self.cov + sigma ** 2 * eye)
        x0 = self.mean + (gain @ (x_t - alpha[:, :, 0] * self.mean)[:, :, None])[:, :, 0]
        return x0, (x_t - alpha[:, :, 0] * x0) / sigma[:, :, 0]


@dataclass
class LinearGaussianProblem:
    """y = A x + n, n ~ N(0, s^2 I), x ~ N(m, C): the denoiser, y and the exact posterior (mean, cov)."""

    denoiser: GaussianDenoiser
    matrix: Tensor
    y: Tensor
    obs_sigma: float
    post_mean: Tensor
    post_cov: Tensor

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        return x @ self.matrix.T


def make_problem(dim: int = 4, measurements: int = 2, obs_sigma: float = 0.5, seed: int = 0) -> LinearGaussianProblem:
    generator = torch.Generator().manual_seed(seed)
    root = torch.randn(dim, dim, generator=generator, dtype=torch.float64) / dim ** 0.5
    cov = root @ root.T + 0.3 * torch.eye(dim, dtype=torch.float64)
    mean = torch.randn(dim, generator=generator, dtype=torch.float64) * 0.5
    matrix = torch.randn(measurements, dim, generator=generator, dtype=torch.float64)
    truth = mean + torch.linalg.cholesky(cov) @ torch.randn(dim, generator=generator, dtype=torch.float64)
    y = matrix @ truth + obs_sigma * torch.randn(measurements, generator=generator, dtype=torch.float64)
    precision = torch.linalg.inv(cov) + matrix.T @ matrix / obs_sigma ** 2
    post_cov = torch.linalg.inv(precision)
    post_mean = post_cov @ (torch.linalg.solve(cov, mean) + matrix.T @ y / obs_sigma ** 2)
    denoiser = GaussianDenoiser(mean, cov, VPLinear(prediction="eps"))
    return LinearGaussianProblem(denoiser, matrix, y, obs_sigma, post_mean, post_cov)
