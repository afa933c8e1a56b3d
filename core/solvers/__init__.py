"""Stateless samplers over an explicit time grid: ``solve(denoiser, x_init, grid, *, generator, callback)``.

``SOLVERS`` maps a name to every solver with that exact signature (the stochastic ones require the
generator); :func:`smc` additionally needs ``log_potential`` and is exported on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from genforge.core.solvers.bfn import BFNModel, VonMisesModel, continuous_bfn, discrete_bfn, von_mises_bfn
from genforge.core.solvers.crystal import periodic_lattice_bfn, torus_lattice_pc
from genforge.core.solvers.ode import (
    Callback,
    PathPoint,
    ddim,
    denoise_at,
    dpm_solver_pp_2m,
    dpm_solver_pp_3m,
    euler,
    grid_steps,
    heun,
    path_point,
)
from genforge.core.solvers.sde import ancestral, ancestral_transition, euler_maruyama, predictor_corrector
from genforge.core.solvers.smc import (
    ParticleSet,
    effective_sample_size,
    multinomial_resample,
    smc,
    smc_weighted,
    systematic_resample,
)

Solver = Callable[..., Tensor]
"""``solve(denoiser, x_init [B, ...], grid [n + 1], *, generator=None, callback=None) -> x [B, ...]``."""

SOLVERS: dict[str, Solver] = {
    "euler": euler,
    "heun": heun,
    "ddim": ddim,
    "dpm_solver_pp_2m": dpm_solver_pp_2m,
    "dpm_solver_pp_3m": dpm_solver_pp_3m,
    "euler_maruyama": euler_maruyama,
    "ancestral": ancestral,
    "predictor_corrector": predictor_corrector,
}

__all__ = [
    "SOLVERS",
    "BFNModel",
    "Callback",
    "ParticleSet",
    "PathPoint",
    "Solver",
    "VonMisesModel",
    "ancestral",
    "ancestral_transition",
    "continuous_bfn",
    "ddim",
    "denoise_at",
    "discrete_bfn",
    "dpm_solver_pp_2m",
    "dpm_solver_pp_3m",
    "effective_sample_size",
    "euler",
    "euler_maruyama",
    "grid_steps",
    "heun",
    "multinomial_resample",
    "path_point",
    "periodic_lattice_bfn",
    "predictor_corrector",
    "smc",
    "smc_weighted",
    "systematic_resample",
    "torus_lattice_pc",
    "von_mises_bfn",
]
