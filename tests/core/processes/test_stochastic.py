"""Stochastic interpolants: marginals, drift targets as time derivatives, and the Gaussian-source view."""

from __future__ import annotations

import pytest
import torch

from genforge.core.processes.stochastic import StochasticInterpolant

F64 = torch.float64
PROCESSES = [StochasticInterpolant(), StochasticInterpolant(interpolation="trig", a=0.5)]


@pytest.mark.parametrize("process", PROCESSES)
def test_pair_marginal_mean_and_variance(process: StochasticInterpolant) -> None:
    generator = torch.Generator().manual_seed(0)
    count = 100000
    for time in [0.2, 0.5, 0.9]:
        x0 = 1.5 + 0.5 * torch.randn(count, 1, generator=generator, dtype=F64)
        x1 = -2.0 + 0.3 * torch.randn(count, 1, generator=generator, dtype=F64)
        z = torch.randn(count, 1, generator=generator, dtype=F64)
        t = torch.full((count,), time, dtype=F64)
        x_t = process.corrupt_pair(x0, x1, t, z)
        alpha, beta, gamma = (float(f(t[:1])) for f in (process.alpha, process.beta, process.gamma))
        mean = 1.5 * alpha - 2.0 * beta
        variance = 0.25 * alpha**2 + 0.09 * beta**2 + gamma**2
        assert abs(float(x_t.mean()) - mean) < 4 * (variance / count) ** 0.5
        assert abs(float(x_t.var()) / variance - 1.0) < 0.02


@pytest.mark.parametrize("process", PROCESSES)
def test_pair_target_is_the_time_derivative_of_the_interpolant(process: StochasticInterpolant) -> None:
    generator = torch.Generator().manual_seed(1)
    x0, x1, z = (torch.randn(5, 3, generator=generator, dtype=F64) for _ in range(3))
    t = torch.tensor([0.05, 0.3, 0.5, 0.71, 0.95], dtype=F64)
    step = 1e-6
    ahead, behind = (process.corrupt_pair(x0, x1, t + sign * step, z) for sign in (1.0, -1.0))
    difference = (ahead - behind) / (2 * step)
    assert torch.allclose(process.target_pair(x0, x1, z, t), difference, atol=1e-7)
    assert torch.equal(process.target_pair(x0, x1, z, t, kind="noise"), z)
    ends = torch.tensor([0.0, 1.0], dtype=F64)
    at_ends = process.corrupt_pair(x0[:2], x1[:2], ends, z[:2])
    assert torch.allclose(at_ends[0], x0[0]) and torch.allclose(at_ends[1], x1[1])
    with pytest.raises(ValueError, match="kind"):
        process.target_pair(x0, x1, z, t, kind="score")


@pytest.mark.parametrize("process", PROCESSES)
def test_gaussian_source_view_has_the_same_drift(process: StochasticInterpolant) -> None:
    """With x1 ~ N(0, I): E[b_pair | x0, eps] = alpha' x0 + sigma' eps, eps = (beta x1 + gamma z) / sigma."""
    generator = torch.Generator().manual_seed(2)
    count = 200000
    t = torch.full((count,), 0.4, dtype=F64)
    x0 = torch.full((count, 1), 0.8, dtype=F64)
    x1, z = (torch.randn(count, 1, generator=generator, dtype=F64) for _ in range(2))
    pair_target = process.target_pair(x0, x1, z, t)
    eps = (process.beta(t)[:, None] * x1 + process.gamma(t)[:, None] * z) / process.sigma(t)[:, None]
    assert torch.allclose(process.corrupt(x0, t, eps), process.corrupt_pair(x0, x1, t, z), atol=1e-12)
    design = torch.cat([torch.ones_like(eps), eps], dim=1)
    intercept, slope = torch.linalg.lstsq(design, pair_target).solution.flatten().tolist()
    assert abs(intercept - float(process.d_alpha(t[:1])) * 0.8) < 0.02
    assert abs(slope - float(process.d_sigma(t[:1]))) < 0.02
    assert torch.allclose(process.target(x0, eps, t), float(process.d_alpha(t[:1])) * x0
                          + process.d_sigma(t)[:, None] * eps)


@pytest.mark.parametrize("process", PROCESSES)
def test_closed_form_derivatives_match_autograd(process: StochasticInterpolant) -> None:
    t = torch.linspace(0.05, 0.95, 7, dtype=F64)
    for value, derivative in [(process.alpha, process.d_alpha), (process.beta, process.d_beta),
                              (process.gamma, process.d_gamma), (process.sigma, process.d_sigma)]:
        tt = t.clone().requires_grad_(True)
        (gradient,) = torch.autograd.grad(value(tt).sum(), tt)
        assert torch.allclose(derivative(t), gradient, atol=1e-12)


def test_sample_time_stays_inside_the_margin_and_prior_is_standard() -> None:
    process = StochasticInterpolant(time_margin=0.01)
    times = process.sample_time(10000, torch.Generator().manual_seed(3))
    assert float(times.min()) >= 0.01 and float(times.max()) <= 0.99
    prior = process.prior((20000,), torch.Generator().manual_seed(4))
    assert abs(float(prior.std()) - 1.0) < 0.02
