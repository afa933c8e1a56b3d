r"""DiffusionMBIR (Chung et al., CVPR 2023) and its fast DDS-style variant (Chung et al., ICLR 2024): a 2-D slice
prior run on all axial slices in parallel, coupled across slices by TV along z inside ADMM data consistency.

* :func:`diffusion_mbir`: predictor-corrector sampling (ancestral predictor + Langevin corrector); after every
  predictor step the sample's image estimate x / alpha goes through one ADMM iteration of
  :math:`\min_x \tfrac{w}{2}\lVert Ax - y\rVert^2 + \lambda \lVert D_z x\rVert_1` (a few CG iterations, z and u
  warm-started across steps), as the paper's Alg. 1 (they run 2000 VE steps; the path here is VP).
* :func:`mbir_fast`: DDS: stochastic DDIM (eta) whose Tweedie estimate x0_hat is replaced by the same ADMM
  TV-z step started at x0_hat (CG in the Krylov space around the denoised image), implemented as a denoiser
  wrapper :class:`TVzConsistency` driven by the core ancestral solver. With lambda = 0 it is the slice-wise
  2-D baseline (no coupling between slices).

Volumes are ``[D, S, S]`` images in [0, 1]; the network sees slices ``[D, 1, S, S]`` in model space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import DenoiserWrapper
from genforge.core.solvers import ancestral, path_point, predictor_corrector
from genforge.domains.medical.baselines import ADMMState, admm_tv_step
from genforge.domains.medical.operators import LinearOperator
from genforge.domains.medical.prior import SlicePrior


@dataclass
class DataConsistency:
    """One warm-started ADMM TV-z iteration on image volumes ``[D, S, S]`` (state kept between calls).

    Args:
        operator: slice-wise A.
        y: measurements ``[D, ...]``.
        lam: TV-z weight (0: no TV, the x-update is plain CG on the data term).
        rho: ADMM penalty.
        cg_iterations: CG iterations per call.
        data_weight: w, scaling the data term (1 / ||A||^2 makes lam and rho operator-independent).
        lam_xy: in-plane (y and x) TV weight, 0 in the papers (the prior regularises slices); > 0 adds
            anisotropic in-plane TV to the same ADMM step.
    """

    operator: LinearOperator
    y: Tensor
    lam: float
    rho: float
    cg_iterations: int
    data_weight: float
    lam_xy: float = 0.0
    state: ADMMState | None = field(default=None, repr=False)

    @property
    def weights(self) -> dict[str, float]:
        weights = {"z": self.lam, "y": self.lam_xy, "x": self.lam_xy}
        return {axis: lam for axis, lam in weights.items() if lam > 0}

    def __call__(self, image: Tensor) -> Tensor:
        """The x-update from ``image`` (CG start), then the z and u updates; returns the new x."""
        if self.state is None:
            self.state = ADMMState.start(image, tuple(self.weights))
        else:
            self.state = ADMMState(image, self.state.z, self.state.u)
        with torch.no_grad():
            self.state = admm_tv_step(self.operator, self.y, self.state, self.weights, self.rho,
                                      self.cg_iterations, self.data_weight)
        return self.state.x


@dataclass
class TVzConsistency(DenoiserWrapper):
    """Denoiser whose x0 estimate is replaced by its data-consistent, TV-z-regularised version (DDS).

    eps_hat is kept, so a DDIM step re-noises the corrected estimate along the network's noise direction.
    """

    consistency: DataConsistency | None = None

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        with torch.no_grad():
            x0, eps = self.inner.x0_eps(x_t, t)
        corrected = self.consistency(SlicePrior.to_image(x0)[:, 0])
        return SlicePrior.to_model(corrected)[:, None], eps


def mbir_fast(prior: SlicePrior, consistency: DataConsistency, depth: int, *, steps: int = 50, eta: float = 0.15,
              seed: int = 0) -> Tensor:
    """DDS-style reconstruction ``[D, S, S]`` (``steps`` NFE of D slices each)."""
    generator = torch.Generator().manual_seed(seed)
    denoiser = TVzConsistency(prior.denoiser, consistency)
    z = prior.process.prior((depth, 1, prior.size, prior.size), generator)
    with torch.no_grad():
        out = ancestral(denoiser, z, grids.uniform(steps), generator=generator, eta=eta)
    return SlicePrior.to_image(out)[:, 0]


def diffusion_mbir(prior: SlicePrior, consistency: DataConsistency, depth: int, *, steps: int = 2000,
                   snr: float = 0.16, max_ratio: float = 1.0, seed: int = 0) -> Tensor:
    """DiffusionMBIR reconstruction ``[D, S, S]`` (2 NFE per step: predictor and one corrector).

    The data-consistency step starts once the noise ratio sigma / alpha falls below ``max_ratio``: on this VP
    path x / alpha is amplified noise at early times (ratio ~150 at t = 1), and ADMM variables warm-started
    there diverged in our runs.
    """
    generator = torch.Generator().manual_seed(seed)
    process = prior.process

    def project(i: int, t_next: float, x: Tensor) -> Tensor:
        point = path_point(process, t_next)
        if point.ratio > max_ratio:
            return x
        alpha = point.alpha
        image = consistency(SlicePrior.to_image(x / alpha)[:, 0])
        return alpha * SlicePrior.to_model(image)[:, None]

    z = process.prior((depth, 1, prior.size, prior.size), generator)
    with torch.no_grad():
        out = predictor_corrector(prior.denoiser, z, grids.uniform(steps), generator=generator, snr=snr,
                                  project=project)
    return consistency(SlicePrior.to_image(out)[:, 0])
