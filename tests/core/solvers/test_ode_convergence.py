"""Empirical convergence orders of the ODE solvers on exact scores.

Error = RMS distance between the solver's output and the exact PF-ODE solution from the same x_init, at
two step counts n and 2n; slope = log2(error_n / error_2n). Grids: uniform in t for Euler / Heun / DDIM
on the linear interpolant; uniform in log-SNR (t_min = 1e-5) otherwise: DPM-Solver++ is an exponential
integrator in lambda, and on grids whose lambda-steps do not shrink near t = 0 (uniform in t) its order
drops to about 1.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import pytest
import torch
from _solver_toys import (
    GAUSS_MEAN,
    GAUSS_STD,
    PATHS,
    exact,
    gaussian_data,
    prior_sample,
    rms,
)

from genforge.core import grids
from genforge.core.solvers import ddim, dpm_solver_pp_2m, dpm_solver_pp_3m, euler, heun
from genforge.core.toy import eight_gaussians_mixture, gaussian_pf_ode_map

# name -> (solver, lowest and highest accepted slope)
SOLVERS = {
    "euler": (euler, 0.8, 1.3),
    "heun": (heun, 1.7, 3.0),
    "ddim": (ddim, 0.8, 1.3),
    "dpm_solver_pp_2m": (dpm_solver_pp_2m, 1.7, 3.0),
    "dpm_solver_pp_3m": (dpm_solver_pp_3m, 2.5, 5.0),
}
T_MIN = 1e-5


def _grid(solver: str, path: str, n: int) -> torch.Tensor:
    if path == "linear" and not solver.startswith("dpm"):
        return grids.uniform(n)
    return grids.log_snr(n, PATHS[path], t_min=T_MIN)


def _slope(errors: tuple[float, float]) -> float:
    return math.log2(errors[0] / errors[1])


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_order_on_single_gaussian(solver: str, path: str) -> None:
    """Against the closed-form affine PF-ODE map, n = 40 and 80 steps."""
    fn, low, high = SOLVERS[solver]
    process = PATHS[path]
    denoiser = exact(gaussian_data(), process)
    x_init = prior_sample(process, 256, seed=0)
    errors = []
    for n in (40, 80):
        grid = _grid(solver, path, n)
        reference = gaussian_pf_ode_map(process, GAUSS_MEAN, GAUSS_STD, x_init, float(grid[0]), 0.0)
        errors.append(rms(fn(denoiser, x_init, grid), reference))
    assert low <= _slope(tuple(errors)) <= high, errors


@cache
def _mixture_reference(path: str, uniform: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_init, PF-ODE endpoint) for the eight-Gaussians mixture: Heun with 1000 uniform steps or
    DPM-Solver++(3M) with 500 log-SNR steps (both about 1e-6 from the exact endpoint)."""
    process = PATHS[path]
    denoiser = exact(eight_gaussians_mixture(), process)
    x_init = prior_sample(process, 64, seed=1)
    if uniform:
        return x_init, heun(denoiser, x_init, grids.uniform(1000))
    return x_init, dpm_solver_pp_3m(denoiser, x_init, grids.log_snr(500, process, t_min=T_MIN))


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_order_on_mixture(solver: str, path: str) -> None:
    """Against a fine reference solve; n = 40 and 80 steps (DPM-Solver++: 80 and 160)."""
    fn, low, high = SOLVERS[solver]
    process = PATHS[path]
    denoiser = exact(eight_gaussians_mixture(), process)
    x_init, reference = _mixture_reference(path, path == "linear" and not solver.startswith("dpm"))
    levels = (80, 160) if solver.startswith("dpm") else (40, 80)
    errors = tuple(rms(fn(denoiser, x_init, _grid(solver, path, n)), reference) for n in levels)
    assert low <= _slope(errors) <= high, errors


def test_mixture_reference_agrees_with_an_independent_method() -> None:
    """The log-SNR reference (3M, 500 steps) and Heun with 500 log-SNR steps agree to 5e-5."""
    process = PATHS["vp_linear"]
    x_init, reference = _mixture_reference("vp_linear", False)
    other = heun(exact(eight_gaussians_mixture(), process), x_init, grids.log_snr(500, process, t_min=T_MIN))
    assert rms(other, reference) < 5e-5


@pytest.mark.parametrize(("solver", "ratio"), [(dpm_solver_pp_2m, 0.15), (dpm_solver_pp_3m, 0.03)])
def test_extrapolated_last_step_beats_a_first_order_jump(solver: Callable[..., torch.Tensor],
                                                         ratio: float) -> None:
    """On EDM with t_min = 1e-3 (sigma_min = 0.08) the last step to sigma = 0 dominates the error of a
    first-order jump x_0 = x0_hat (diffusers / k-diffusion); extrapolating D in u lowers that floor."""
    process = PATHS["edm"]
    denoiser = exact(gaussian_data(), process)
    x_init = prior_sample(process, 64, seed=2)
    grid = grids.log_snr(80, process, t_min=1e-3)
    reference = gaussian_pf_ode_map(process, GAUSS_MEAN, GAUSS_STD, x_init, float(grid[0]), 0.0)
    ours = rms(solver(denoiser, x_init, grid), reference)
    jump = rms(ddim(denoiser, solver(denoiser, x_init, grid[:-1]), grid[-2:]), reference)
    assert ours < ratio * jump, (ours, jump)
