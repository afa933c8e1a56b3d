"""Shared helpers for the solver tests: a call-counting denoiser, RMS error, exact Gaussian data."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser, DenoiserWrapper
from genforge.core.processes.gaussian import EDM, GaussianPath, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant
from genforge.core.toy import ExactMixtureDenoiser, GaussianMixture

PATHS: dict[str, GaussianPath] = {"vp_linear": VPLinear(), "edm": EDM(), "linear": LinearInterpolant()}

GAUSS_MEAN = torch.tensor([1.0, -0.5], dtype=torch.float64)
GAUSS_STD = torch.tensor([0.5, 0.2], dtype=torch.float64)


def gaussian_data() -> GaussianMixture:
    """A single axis-aligned 2-D Gaussian N(GAUSS_MEAN, diag(GAUSS_STD^2))."""
    return GaussianMixture(torch.ones(1, dtype=torch.float64), GAUSS_MEAN[None], GAUSS_STD[None])


@dataclass
class CountingDenoiser(DenoiserWrapper):
    """Counts denoiser calls (NFE) and records the times they were made at."""

    calls: int = 0
    times: list[float] = field(default_factory=list)

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        self.calls += 1
        self.times.append(float(t[0]))
        return self.inner.x0_eps(x_t, t)


def exact(data: GaussianMixture, process: GaussianPath) -> Denoiser:
    return ExactMixtureDenoiser(data, process)


def prior_sample(process: GaussianPath, n: int, seed: int) -> Tensor:
    return process.prior((n, 2), torch.Generator().manual_seed(seed), dtype=torch.float64)


def rms(a: Tensor, b: Tensor) -> float:
    """Root mean squared Euclidean distance between matched rows."""
    return float((a - b).square().sum(dim=1).mean().sqrt())


def gaussian_rbf_mmd2(a: Tensor, b: Tensor, bandwidth: float) -> float:
    """Biased MMD^2 estimate with the kernel exp(-|x - y|^2 / (2 bandwidth^2))."""
    def kernel(u: Tensor, v: Tensor) -> Tensor:
        return torch.exp(-torch.cdist(u, v).square() / (2.0 * bandwidth ** 2))
    return float(kernel(a, a).mean() + kernel(b, b).mean() - 2.0 * kernel(a, b).mean())
