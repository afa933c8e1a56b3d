"""SMC, DPS and RED-diff against the exact posterior of a linear-Gaussian problem (Gaussian prior, exact denoiser)."""

from __future__ import annotations

import torch
from med_gaussian import make_problem

from genforge.core import grids
from genforge.core.guidance import dps, red_diff
from genforge.core.solvers import ancestral, smc_weighted
from genforge.core.solvers.smc import LogPotential
from genforge.domains.medical.posterior import annealed_twist

PROBLEM = make_problem(obs_sigma=1.0)


def _log_likelihood(x_t: torch.Tensor, t: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    return -(PROBLEM.y - PROBLEM.A(x0)).square().sum(1) / (2 * PROBLEM.obs_sigma ** 2)


def _smc_errors(particles: int, seeds: int = 6, twist: LogPotential = _log_likelihood) -> tuple[float, float]:
    mean_errors, cov_errors = [], []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(seed)
        x = PROBLEM.denoiser.process.prior((particles, 4), generator, dtype=torch.float64)
        result = smc_weighted(PROBLEM.denoiser, x, grids.uniform(30, t_max=0.999), log_potential=twist,
                              generator=generator)
        weights = torch.softmax(result.log_weights, 0)
        mean = weights @ result.particles
        centred = result.particles - mean
        cov = torch.einsum("n,ni,nj->ij", weights, centred, centred)
        mean_errors.append(float((mean - PROBLEM.post_mean).norm()))
        cov_errors.append(float((cov - PROBLEM.post_cov).norm()))
    return sum(mean_errors) / seeds, sum(cov_errors) / seeds


def test_smc_mean_and_covariance_errors_shrink_with_particles() -> None:
    few_mean, few_cov = _smc_errors(16)
    many_mean, many_cov = _smc_errors(1024)
    assert many_mean < 0.5 * few_mean
    assert many_cov < 0.5 * few_cov
    assert many_mean < 0.3 * float((PROBLEM.denoiser.mean - PROBLEM.post_mean).norm())


def test_smc_with_the_annealed_twist_still_targets_the_exact_posterior() -> None:
    """The medical SMC's twist (Tweedie-error variance added at high noise) only changes the intermediate
    targets: with many particles the weighted mean and covariance still match the exact posterior."""
    twist = annealed_twist(PROBLEM.A, PROBLEM.y, PROBLEM.denoiser.process, PROBLEM.obs_sigma, 0.5)
    few_mean, few_cov = _smc_errors(16, twist=twist)
    many_mean, many_cov = _smc_errors(1024, twist=twist)
    assert many_mean < 0.5 * few_mean and many_cov < 0.5 * few_cov
    assert many_mean < 0.3 * float((PROBLEM.denoiser.mean - PROBLEM.post_mean).norm())


def _dps_error(steps: int) -> float:
    generator = torch.Generator().manual_seed(0)
    x = PROBLEM.denoiser.process.prior((4000, 4), generator, dtype=torch.float64)
    samples = ancestral(dps(PROBLEM.denoiser, PROBLEM.A, PROBLEM.y, 1.0), x, grids.uniform(steps, t_max=0.999),
                        generator=generator)
    return float((samples.mean(0) - PROBLEM.post_mean).norm())


def test_dps_mean_error_shrinks_with_steps() -> None:
    prior_error = float((PROBLEM.denoiser.mean - PROBLEM.post_mean).norm())
    coarse, fine = _dps_error(5), _dps_error(20)
    assert fine < coarse
    assert fine < 0.4 * prior_error


def test_reddiff_error_shrinks_with_steps() -> None:
    errors = []
    for steps in (10, 50, 250):
        generator = torch.Generator().manual_seed(0)
        mu = PROBLEM.denoiser.mean.expand(64, 4).clone()
        out = red_diff(PROBLEM.denoiser, PROBLEM.A, PROBLEM.y, mu, grids.uniform(steps, t_max=0.999), lr=0.1,
                       lambda_=0.25, obs_sigma=PROBLEM.obs_sigma, generator=generator)
        errors.append(float((out.mean(0) - PROBLEM.post_mean).norm()))
    assert errors[2] < errors[1] < errors[0]
    assert errors[2] < 0.3 * float((PROBLEM.denoiser.mean - PROBLEM.post_mean).norm())


def test_reddiff_handles_complex_measurements() -> None:
    """A complex operator (real and imaginary parts of y) gives the same answer as the stacked real one."""
    real = PROBLEM.matrix

    def complex_forward(x: torch.Tensor) -> torch.Tensor:
        return (x @ real.T).to(torch.complex128) * (1 + 1j) / 2 ** 0.5

    results = []
    for forward, y in ((PROBLEM.A, PROBLEM.y), (complex_forward, PROBLEM.y.to(torch.complex128) * (1 + 1j) / 2 ** 0.5)):
        generator = torch.Generator().manual_seed(0)
        results.append(red_diff(PROBLEM.denoiser, forward, y, PROBLEM.denoiser.mean[None].clone(),
                                grids.uniform(20, t_max=0.999), lr=0.1, lambda_=0.25, obs_sigma=1.0,
                                generator=generator))
    torch.testing.assert_close(results[0], results[1])
