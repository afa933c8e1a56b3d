r"""Posterior methods on the slice prior, each a thin call into the core: DPS (core ``dps`` wrapper + ancestral
sampler), RED-diff (core ``red_diff`` optimiser) and twisted SMC (core ``smc_weighted``, one particle system per
axial slice: the posterior factorises over slices).

The measurement model seen from model space is :math:`y = A(\tfrac12(z + 1)) + n`, slice by slice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.guidance import dps, red_diff
from genforge.core.processes.gaussian import GaussianPath
from genforge.core.solvers import ancestral, path_point, smc_weighted
from genforge.core.solvers.smc import LogPotential, effective_sample_size
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


@dataclass(frozen=True)
class SMCResult:
    """Posterior summary: weighted mean and per-voxel standard deviation ``[D, S, S]``, final ESS."""

    mean: Tensor
    std: Tensor
    ess: float


def annealed_twist(forward: Callable[[Tensor], Tensor], y: Tensor, process: GaussianPath, obs_sigma: float,
                   scale: float) -> LogPotential:
    r"""The twist :math:`\ell_t = -\lVert y - A \hat x_0 \rVert^2 / (2 s_t^2)` (summed per particle) with
    :math:`s_t^2 = s^2 + (\mathrm{scale}\, \rho_t)^2`, rho_t = sigma_t / alpha_t the path's noise ratio.

    The second term is the error of A x0_hat at noise ratio rho_t (as in PiGDM), ``scale`` its size per unit ratio
    (units of y): the twist and TDS's proposal shift c^2 grad ell stay bounded at high noise, and at t = 0 the twist
    is the exact log-likelihood with noise std s = ``obs_sigma``, so SMC still targets the exact posterior.
    """
    def log_potential(x_t: Tensor, t: Tensor, x0_hat: Tensor) -> Tensor:
        variance = obs_sigma ** 2 + (scale * path_point(process, float(t[0])).ratio) ** 2
        return -(y - forward(x0_hat)).abs().square().flatten(1).sum(1) / (2.0 * variance)

    return log_potential


def smc_reconstruct(prior: SlicePrior, operator: LinearOperator, y: Tensor, *, particles: int = 4,
                    steps: int = 25, obs_sigma: float = 1.0, twist_scale: float = 0.0, seed: int = 0) -> SMCResult:
    """Twisted SMC (TDS, core ``smc_weighted``) with :func:`annealed_twist`, one particle system per axial slice.

    The slice prior and the slice-wise operator make the posterior a product over slices, so each slice gets its
    own ``particles`` particles, weights and resampling (whole-volume particles weigh the likelihood of all D
    slices at once and collapse to one particle). ``particles`` x D slices per step, each with a backward pass;
    ``obs_sigma`` s and ``twist_scale`` in units of y (model-space ratio). The reported ESS is the mean over slices.
    """
    generator = torch.Generator().manual_seed(seed)
    model_operator = ModelSpaceOperator(operator)
    means, stds, ess = [], [], []
    for y_slice in y:
        twist = annealed_twist(model_operator.A, y_slice, prior.process, obs_sigma, twist_scale)
        z = prior.process.prior((particles, 1, prior.size, prior.size), generator)
        result = smc_weighted(prior.denoiser, z, grids.uniform(steps), log_potential=twist, generator=generator)
        images = SlicePrior.to_image(result.particles.detach())[:, 0]
        weights = torch.softmax(result.log_weights, dim=0).to(images.dtype)
        mean = torch.tensordot(weights, images, dims=1)
        means.append(mean)
        stds.append(torch.tensordot(weights, (images - mean).square(), dims=1).sqrt())
        ess.append(float(effective_sample_size(result.log_weights)))
    return SMCResult(torch.stack(means), torch.stack(stds), sum(ess) / len(ess))
