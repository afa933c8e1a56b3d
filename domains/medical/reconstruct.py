"""One interface for every reconstruction: ``reconstruct(measurement, operator, prior, method, ...)``.

Methods: ``fbp`` (A_dagger: FBP for CT, zero-filled IFFT for MRI), ``admm-tv`` (anisotropic 3-D TV),
``mbir`` (DiffusionMBIR, PC sampling + ADMM TV-z), ``mbir-fast`` (DDS-style DDIM + CG + TV-z), ``slice2d``
(the fast variant without TV-z: independent slices), ``dps``, ``reddiff`` and ``smc`` (posterior mean and
per-voxel std). Data terms are weighted by w = 1 / ||A^T A|| (power iteration) so that one set of TV and
ADMM weights fits CT and MRI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import Tensor

from genforge.core.errors import GenforgeError
from genforge.domains.medical.baselines import ADMMState, admm_tv_step
from genforge.domains.medical.mbir import DataConsistency, diffusion_mbir, mbir_fast
from genforge.domains.medical.operators import LinearOperator
from genforge.domains.medical.posterior import dps_reconstruct, reddiff_reconstruct, smc_reconstruct
from genforge.domains.medical.prior import SlicePrior

METHODS = ("fbp", "admm-tv", "mbir", "mbir-fast", "slice2d", "dps", "reddiff", "smc")
PRIOR_METHODS = ("mbir", "mbir-fast", "slice2d", "dps", "reddiff", "smc")


class MethodError(GenforgeError):
    """An unknown method, or a diffusion method without a prior."""


@dataclass(frozen=True)
class MethodOptions:
    """Knobs of every method (defaults tuned with ``benchmarks.medical_tune`` on central 12 / 16-slice slabs of
    the validation volumes, phantom seed 1, at 8-view CT and 25 steps; see the README).

    Args:
        tv_lam: ADMM-TV weight (3-D anisotropic), relative to the normalised data term.
        tv_rho: ADMM-TV penalty.
        tv_iterations: ADMM iterations of ``admm-tv``.
        tv_cg: CG iterations per ADMM x-update of ``admm-tv``.
        tvz_lam: TV-z weight of ``mbir`` / ``mbir-fast``.
        tvz_rho: their ADMM penalty.
        tvxy_lam: in-plane TV weight added to their ADMM step (0: the papers' TV-z only).
        dc_cg: CG iterations per data-consistency step of ``mbir`` / ``mbir-fast`` / ``slice2d``.
        fast_steps: DDIM steps of ``mbir-fast`` / ``slice2d``.
        fast_eta: their DDIM stochasticity.
        mbir_steps: predictor-corrector steps of ``mbir`` (the paper: 2000).
        dps_steps: ancestral steps of ``dps``.
        dps_zeta: its guidance rate times ||A|| (zeta = dps_zeta / ||A||, so the step in x is operator-free).
        reddiff_steps: Adam steps of ``reddiff``.
        reddiff_lr: its learning rate.
        reddiff_lam: its regularisation weight.
        smc_particles: particles per slice of ``smc``.
        smc_steps: its steps.
        smc_sigma: its likelihood temperature s, relative to ||A|| (s_abs = smc_sigma * ||A||).
        smc_twist: gamma, the Tweedie-error term of its twist variance is (gamma ||A|| rho_t / 2)^2 (0: plain twist).
    """

    tv_lam: float = 0.0001
    tv_rho: float = 0.001
    tv_iterations: int = 30
    tv_cg: int = 20
    tvz_lam: float = 0.0001
    tvz_rho: float = 0.001
    tvxy_lam: float = 0.0
    dc_cg: int = 30
    fast_steps: int = 25
    fast_eta: float = 0.15
    mbir_steps: int = 2000
    dps_steps: int = 100
    dps_zeta: float = 150.0
    reddiff_steps: int = 100
    reddiff_lr: float = 0.1
    reddiff_lam: float = 0.003
    smc_particles: int = 4
    smc_steps: int = 25
    smc_sigma: float = 0.05
    smc_twist: float = 0.3


@dataclass
class Reconstruction:
    """A reconstructed volume ``[D, S, S]`` in [0, 1] units, optional per-voxel std, NFE (slice batches) and
    wall time in seconds."""

    volume: Tensor
    std: Tensor | None = None
    nfe: int = 0
    seconds: float = 0.0
    extras: dict[str, float] = field(default_factory=dict)


def normal_norm(operator: LinearOperator, iterations: int = 30, seed: int = 0) -> float:
    """Largest eigenvalue of A^T A on one slice (power iteration)."""
    generator = torch.Generator().manual_seed(seed)
    v = torch.randn((1, *operator.image_shape), generator=generator, dtype=torch.float64)
    value = 1.0
    for _ in range(iterations):
        v = operator.normal(v)
        value = float(v.norm())
        v = v / value
    return value


def check_method(method: str) -> None:
    """MethodError unless ``method`` is one of :data:`METHODS`."""
    if method not in METHODS:
        raise MethodError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}", field="--method")


def reconstruct(measurement: Tensor, operator: LinearOperator, prior: SlicePrior | None, method: str, *,
                options: MethodOptions | None = None, seed: int = 0) -> Reconstruction:
    """Reconstruct one volume from ``measurement`` ``[D, ...]`` (slice-wise ``operator``) with ``method``."""
    check_method(method)
    if method in PRIOR_METHODS and prior is None:
        raise MethodError(f"method {method!r} needs a diffusion prior checkpoint", field="ckpt")
    if prior is not None and method in PRIOR_METHODS:
        prior.check_size(*operator.image_shape, source="measurement")
    options = options or MethodOptions()
    y = measurement
    depth = y.shape[0]
    weight = 1.0 / normal_norm(operator)
    start = time.perf_counter()
    std, nfe, extras = None, 0, {}
    fbp = operator.A_dagger(y).clamp(0.0, 1.0)
    if method == "fbp":
        volume = fbp
    elif method == "admm-tv":
        weights = dict.fromkeys(("z", "y", "x"), options.tv_lam)
        state = ADMMState.start(fbp, tuple(weights))
        for _ in range(options.tv_iterations):
            state = admm_tv_step(operator, y, state, weights, options.tv_rho, options.tv_cg, weight)
        volume = state.x
    elif method in ("mbir", "mbir-fast", "slice2d"):
        lam = 0.0 if method == "slice2d" else options.tvz_lam
        consistency = DataConsistency(operator, y, lam, options.tvz_rho, options.dc_cg, weight,
                                      0.0 if method == "slice2d" else options.tvxy_lam)
        if method == "mbir":
            volume = diffusion_mbir(prior, consistency, depth, steps=options.mbir_steps, seed=seed)
            nfe = 2 * options.mbir_steps - 1
        else:
            volume = mbir_fast(prior, consistency, depth, steps=options.fast_steps, eta=options.fast_eta, seed=seed)
            nfe = options.fast_steps
    elif method == "dps":
        volume = dps_reconstruct(prior, operator, y, steps=options.dps_steps, zeta=options.dps_zeta * weight ** 0.5,
                                 seed=seed)
        nfe = options.dps_steps
    elif method == "reddiff":
        volume = reddiff_reconstruct(prior, operator, y, fbp, steps=options.reddiff_steps, lr=options.reddiff_lr,
                                     lam=options.reddiff_lam, obs_sigma=weight ** -0.5, seed=seed)
        nfe = options.reddiff_steps
    else:
        result = smc_reconstruct(prior, operator, y, particles=options.smc_particles, steps=options.smc_steps,
                                 obs_sigma=options.smc_sigma * weight ** -0.5,
                                 twist_scale=options.smc_twist * weight ** -0.5 / 2.0, seed=seed)
        volume, std, nfe = result.mean, result.std, options.smc_steps * options.smc_particles
        extras["ess"] = result.ess
    return Reconstruction(volume.detach().clamp(0.0, 1.0), std, nfe, time.perf_counter() - start, extras)
