"""Sequential Monte Carlo: resampling, ESS, and the posterior of a linear-Gaussian inverse problem."""

from __future__ import annotations

import pytest
import torch
from _solver_toys import CountingDenoiser, exact, prior_sample

from genforge.core import grids
from genforge.core.processes.gaussian import VPLinear
from genforge.core.solvers import (
    ancestral,
    effective_sample_size,
    multinomial_resample,
    smc,
    smc_weighted,
    systematic_resample,
)
from genforge.core.toy import GaussianMixture

LOG_WEIGHTS = torch.tensor([0.3, -1.0, 2.0, 0.0, -0.5, 1.2], dtype=torch.float64)


def _counts(indices: torch.Tensor, n: int) -> torch.Tensor:
    return torch.bincount(indices, minlength=n).to(torch.float64)


def test_systematic_copies_each_particle_floor_or_ceil_of_its_expected_count() -> None:
    n = LOG_WEIGHTS.shape[0]
    expected = n * torch.softmax(LOG_WEIGHTS, 0)
    generator = torch.Generator().manual_seed(0)
    draws = torch.stack([_counts(systematic_resample(LOG_WEIGHTS, generator), n) for _ in range(2000)])
    assert ((draws == expected.floor()) | (draws == expected.ceil())).all()
    torch.testing.assert_close(draws.mean(0), expected, atol=0.03, rtol=0.0)


def test_multinomial_resampling_has_the_expected_counts() -> None:
    n = LOG_WEIGHTS.shape[0]
    probs = torch.softmax(LOG_WEIGHTS, 0)
    generator = torch.Generator().manual_seed(1)
    draws = torch.stack([_counts(multinomial_resample(LOG_WEIGHTS, generator), n) for _ in range(4000)])
    standard_error = (n * probs * (1 - probs) / 4000).sqrt()
    assert ((draws.mean(0) - n * probs).abs() < 4 * standard_error).all()


def test_effective_sample_size_bounds() -> None:
    torch.testing.assert_close(effective_sample_size(torch.zeros(50)), torch.tensor(50.0))
    one_hot = torch.full((50,), -torch.inf)
    one_hot[3] = 0.0
    torch.testing.assert_close(effective_sample_size(one_hot), torch.tensor(1.0))
    torch.testing.assert_close(effective_sample_size(LOG_WEIGHTS + 7.0), effective_sample_size(LOG_WEIGHTS))


PRIOR_MEAN = torch.tensor([0.5, -0.5], dtype=torch.float64)
PRIOR_STD = torch.tensor([1.0, 0.7], dtype=torch.float64)
OPERATOR = torch.tensor([[1.0, 0.5]], dtype=torch.float64)
NOISE_STD = 0.3
OBSERVATION = torch.tensor([1.5], dtype=torch.float64)
PROCESS = VPLinear()


def _posterior() -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form N(m, S) of x0 ~ N(PRIOR_MEAN, diag(PRIOR_STD^2)) given y = A x0 + N(0, NOISE_STD^2)."""
    prior_precision = torch.diag(PRIOR_STD ** -2)
    cov = torch.linalg.inv(prior_precision + OPERATOR.T @ OPERATOR / NOISE_STD ** 2)
    mean = cov @ (prior_precision @ PRIOR_MEAN + OPERATOR.T @ OBSERVATION / NOISE_STD ** 2)
    return mean, cov


def _log_potential(x_t: torch.Tensor, t: torch.Tensor, x0_hat: torch.Tensor) -> torch.Tensor:
    """log p(y | x_t) for the Gaussian prior: y | x_t ~ N(A x0_hat, s^2 + A Cov(x0 | x_t) A^T)."""
    alpha, sigma = PROCESS.alpha(t), PROCESS.sigma(t)
    u = (sigma / alpha).square()[:, None]
    posterior_var = PRIOR_STD ** 2 * u / (PRIOR_STD ** 2 + u)
    var = NOISE_STD ** 2 + (OPERATOR ** 2 * posterior_var).sum(dim=1)
    return -(OBSERVATION - x0_hat @ OPERATOR.T).square().sum(dim=1) / (2.0 * var)


def _denoiser() -> CountingDenoiser:
    prior = GaussianMixture(torch.ones(1, dtype=torch.float64), PRIOR_MEAN[None], PRIOR_STD[None])
    return CountingDenoiser(exact(prior, PROCESS))


@pytest.mark.parametrize("twist_proposal", [True, False], ids=["twisted", "bootstrap"])
@pytest.mark.parametrize("resampler", ["systematic", "multinomial"])
def test_smc_recovers_the_linear_gaussian_posterior(resampler: str, twist_proposal: bool) -> None:
    """Posterior std is 0.42 / 0.66; 200 steps keep the ancestral kernel's under-dispersion below 2 %."""
    mean, cov = _posterior()
    denoiser = _denoiser()
    grid = grids.log_snr(200, PROCESS, t_min=1e-4)
    samples = smc(denoiser, prior_sample(PROCESS, 2000, seed=10), grid, log_potential=_log_potential,
                  generator=torch.Generator().manual_seed(11), resampler=resampler,
                  twist_proposal=twist_proposal)
    assert denoiser.calls == 200
    assert (samples.mean(0) - mean).abs().max() < 0.07
    assert (torch.cov(samples.T) - cov).abs().max() < 0.07


def test_weights_carry_the_observation() -> None:
    """Without resampling or twisted proposals the particles are prior draws; only the weights move the
    estimate to the posterior, and plain ancestral sampling stays at the prior."""
    mean, _ = _posterior()
    x_init = prior_sample(PROCESS, 2000, seed=12)
    grid = grids.log_snr(100, PROCESS, t_min=1e-4)
    result = smc_weighted(_denoiser(), x_init, grid, log_potential=_log_potential, ess_threshold=0.0,
                          generator=torch.Generator().manual_seed(13), twist_proposal=False)
    assert (result.mean() - mean).abs().max() < 0.06
    assert (result.particles.mean(0) - mean).abs().max() > 0.5
    assert result.ess.shape == (100,) and float(result.ess[-1]) < 1000
    plain = ancestral(_denoiser(), x_init, grid, generator=torch.Generator().manual_seed(13))
    assert (plain.mean(0) - mean).abs().max() > 0.5


def test_unknown_resampler_is_rejected() -> None:
    with pytest.raises(ValueError, match="resampler"):
        smc(_denoiser(), prior_sample(PROCESS, 4, seed=0), grids.uniform(3), log_potential=_log_potential,
            generator=torch.Generator().manual_seed(0), resampler="stratified")
