r"""Posterior methods on the slice prior, each a thin call into the core: DPS (core ``dps`` wrapper + ancestral
sampler), RED-diff (core ``red_diff`` optimiser) and twisted SMC (core ``smc_weighted``; particles are whole
volumes, so the weights use the volume likelihood).

The measurement model seen from model space is :math:`y = A(\tfrac12(z + 1)) + n`, slice by slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import DenoiserWrapper
from genforge.core.guidance import dps, red_diff
from genforge.core.solvers import ancestral, smc_weighted
from genforge.domains.medical.operators import LinearOperator
from genforge.domains.medical.prior import SlicePrior


@dataclass(frozen=True)
class ModelSpaceOperator:
    """A acting on model-space slices ``[B, 1, S, S]``: ``A(to_image(z)[:, 0])``."""

    operator: LinearOperator

    def A(self, z: Tensor) -> Tensor:  # noqa: N802
        return self.operator.A(SlicePrior.to_image(z)[:, 0])


def dps_reconstruct(prior: SlicePrior, operator: LinearOperator, y: Tensor, *, steps: int = 100,
                    zeta: float = 1.0, seed: int = 0) -> Tensor:
    """DPS (ancestral sampling of the guided denoiser), ``[D, S, S]``; ``steps`` NFE with a backward pass each.

    ``zeta`` is the core's rate (per unit step factor), in units of 1 / y per slice.
    """
    generator = torch.Generator().manual_seed(seed)
    guided = dps(prior.denoiser, ModelSpaceOperator(operator), y, zeta)
    z = prior.process.prior((y.shape[0], 1, prior.size, prior.size), generator)
    out = ancestral(guided, z, grids.uniform(steps), generator=generator)
    return SlicePrior.to_image(out.detach())[:, 0]


def reddiff_reconstruct(prior: SlicePrior, operator: LinearOperator, y: Tensor, x_init: Tensor, *,
                        steps: int = 100, lr: float = 0.05, lam: float = 0.25, obs_sigma: float = 0.1,
                        t_max: float = 1.0, seed: int = 0) -> Tensor:
    """RED-diff from ``x_init`` ``[D, S, S]`` (e.g. FBP), ``steps`` NFE without network Jacobians."""
    generator = torch.Generator().manual_seed(seed)
    mu = SlicePrior.to_model(x_init)[:, None]
    out = red_diff(prior.denoiser, ModelSpaceOperator(operator), y, mu, grids.uniform(steps, t_max=t_max), lr=lr,
                   lambda_=lam, obs_sigma=obs_sigma, generator=generator)
    return SlicePrior.to_image(out)[:, 0]


@dataclass
class VolumeDenoiser(DenoiserWrapper):
    """Particles as whole volumes ``[N, D, S, S]``: the slice denoiser on ``[N * D, 1, S, S]``, reshaped back."""

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        n, depth = x_t.shape[:2]
        x0, eps = self.inner.x0_eps(x_t.reshape(n * depth, 1, *x_t.shape[2:]), t.repeat_interleave(depth))
        return x0.reshape(x_t.shape), eps.reshape(x_t.shape)


@dataclass(frozen=True)
class SMCResult:
    """Posterior summary: weighted mean and per-voxel standard deviation ``[D, S, S]``, final ESS."""

    mean: Tensor
    std: Tensor
    ess: float


def smc_reconstruct(prior: SlicePrior, operator: LinearOperator, y: Tensor, *, particles: int = 4,
                    steps: int = 25, obs_sigma: float = 1.0, seed: int = 0) -> SMCResult:
    r"""Twisted SMC (TDS) with twist :math:`-\lVert y - A \hat x_0 \rVert^2 / (2 s^2)` over whole volumes.

    ``particles`` x D slices per NFE, each with a backward pass; ``obs_sigma`` s (units of y) tempers the twist.
    """
    generator = torch.Generator().manual_seed(seed)
    depth = y.shape[0]

    def log_potential(x_t: Tensor, t: Tensor, x0_hat: Tensor) -> Tensor:
        residual = y - operator.A(SlicePrior.to_image(x0_hat))
        return -residual.abs().square().flatten(1).sum(1) / (2.0 * obs_sigma ** 2)

    z = prior.process.prior((particles, depth, prior.size, prior.size), generator)
    result = smc_weighted(VolumeDenoiser(prior.denoiser), z, grids.uniform(steps), log_potential=log_potential,
                          generator=generator)
    images = SlicePrior.to_image(result.particles.detach())
    weights = torch.softmax(result.log_weights, dim=0).to(images.dtype)
    mean = torch.tensordot(weights, images, dims=1)
    var = torch.tensordot(weights, (images - mean).square(), dims=1)
    ess = float(torch.exp(-torch.logsumexp(2.0 * torch.log_softmax(result.log_weights, dim=0), dim=0)))
    return SMCResult(mean, var.sqrt(), ess)
