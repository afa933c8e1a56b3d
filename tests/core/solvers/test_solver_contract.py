"""The contract every solver keeps: honest NFE, no evaluation at sigma = 0, alpha = 0 starts, callbacks."""

from __future__ import annotations

import math

import pytest
import torch
from _solver_toys import GAUSS_MEAN, GAUSS_STD, CountingDenoiser, exact, gaussian_data, prior_sample, rms

from genforge.core import grids
from genforge.core.processes.gaussian import VE, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant
from genforge.core.solvers import SOLVERS, ancestral, ddim, euler_maruyama, predictor_corrector
from genforge.core.toy import gaussian_pf_ode_map

N_STEPS = 12
# NFE for N_STEPS steps (predictor_corrector with its default single corrector step)
EXPECTED_NFE = {"euler": 12, "heun": 24, "ddim": 12, "dpm_solver_pp_2m": 12, "dpm_solver_pp_3m": 12,
                "euler_maruyama": 12, "ancestral": 12, "predictor_corrector": 24}


def _run(name: str, denoiser: CountingDenoiser, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
    return SOLVERS[name](denoiser, x, grid, generator=torch.Generator().manual_seed(0))


def test_every_solver_is_listed() -> None:
    assert set(SOLVERS) == set(EXPECTED_NFE)


@pytest.mark.parametrize("name", sorted(EXPECTED_NFE))
def test_nfe_is_counted_and_sigma_zero_is_never_evaluated(name: str) -> None:
    """On VPLinear the velocity at t = 0 is infinite (sigma'(0) = inf): no solver may evaluate there."""
    process = VPLinear()
    denoiser = CountingDenoiser(exact(gaussian_data(), process))
    out = _run(name, denoiser, prior_sample(process, 16, seed=0), grids.log_snr(N_STEPS, process))
    assert denoiser.calls == EXPECTED_NFE[name]
    assert min(denoiser.times) > 0.0
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("process", [LinearInterpolant(), VPCosine()], ids=["linear", "vp_cosine"])
@pytest.mark.parametrize("name", sorted(set(EXPECTED_NFE) - {"euler_maruyama"}))
def test_grids_starting_where_alpha_vanishes(name: str, process: LinearInterpolant | VPCosine) -> None:
    """Uniform grids from t = 1 (alpha(1) = 0, lambda = -inf): finite output near the exact endpoint."""
    x_init = prior_sample(process, 256, seed=1)
    out = _run(name, CountingDenoiser(exact(gaussian_data(), process)), x_init, grids.uniform(40))
    assert torch.isfinite(out).all()
    if name in ("euler", "heun", "ddim", "dpm_solver_pp_2m", "dpm_solver_pp_3m"):
        reference = gaussian_pf_ode_map(process, GAUSS_MEAN, GAUSS_STD, x_init, 1.0, 0.0)
        assert rms(out, reference) < 0.03
    else:
        assert (out.mean(0) - GAUSS_MEAN).abs().max() < 0.1


def test_euler_maruyama_refuses_an_unstable_start_at_alpha_zero() -> None:
    process = LinearInterpolant()
    with pytest.raises(ValueError, match="unstable"):
        euler_maruyama(exact(gaussian_data(), process), prior_sample(process, 4, seed=0), grids.uniform(10),
                       generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", ["euler_maruyama", "ancestral", "predictor_corrector"])
def test_stochastic_solvers_require_a_generator(name: str) -> None:
    process = VPLinear()
    with pytest.raises(ValueError, match="Generator"):
        SOLVERS[name](exact(gaussian_data(), process), prior_sample(process, 4, seed=0), grids.uniform(5))


def test_predictor_corrector_rejects_an_unknown_predictor() -> None:
    process = VPLinear()
    with pytest.raises(ValueError, match="predictor"):
        predictor_corrector(exact(gaussian_data(), process), prior_sample(process, 4, seed=0),
                            grids.uniform(5), generator=torch.Generator().manual_seed(0), predictor="heun")


@pytest.mark.parametrize("name", sorted(EXPECTED_NFE))
def test_callback_sees_every_evaluated_grid_point(name: str) -> None:
    process = VPLinear()
    grid = grids.log_snr(N_STEPS, process)
    seen: list[tuple[int, float]] = []

    def record(i: int, t: float, x: torch.Tensor, x0: torch.Tensor) -> None:
        assert x.shape == x0.shape == (8, 2)
        seen.append((i, t))

    SOLVERS[name](exact(gaussian_data(), process), prior_sample(process, 8, seed=0), grid,
                  generator=torch.Generator().manual_seed(0), callback=record)
    assert seen == list(zip(range(N_STEPS), grid[:-1].tolist(), strict=True))


def test_ancestral_with_eta_zero_is_ddim() -> None:
    process = VPLinear()
    denoiser = exact(gaussian_data(), process)
    x_init = prior_sample(process, 32, seed=3)
    grid = grids.log_snr(10, process)
    stochastic_zero = ancestral(denoiser, x_init, grid, generator=torch.Generator().manual_seed(0), eta=0.0)
    torch.testing.assert_close(stochastic_zero, ddim(denoiser, x_init, grid))


def test_ve_paths_end_at_sigma_min_with_plain_steps() -> None:
    """VE has sigma(0) = sigma_min > 0: the last step is an ordinary Heun step, evaluated at t = 0, and
    Heun keeps order 2 (uniform t is uniform log-SNR for VE)."""
    process = VE()
    denoiser = CountingDenoiser(exact(gaussian_data(), process))
    x_init = prior_sample(process, 64, seed=4)
    reference = gaussian_pf_ode_map(process, GAUSS_MEAN, GAUSS_STD, x_init, 1.0, 0.0)
    errors = [rms(SOLVERS["heun"](denoiser, x_init, grids.uniform(n)), reference) for n in (40, 80)]
    assert math.log2(errors[0] / errors[1]) > 1.7
    assert min(denoiser.times) == 0.0
