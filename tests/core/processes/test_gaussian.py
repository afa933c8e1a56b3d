"""Gaussian paths: marginals of corrupt(), closed-form derivatives, log-SNR and its inverse."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from genforge.core.processes.gaussian import EDM, VE, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant, TrigInterpolant

PROCESSES: list[GaussianPath] = [VPLinear(), VPCosine(), VE(), EDM(), LinearInterpolant(), TrigInterpolant()]
IDS = [type(p).__name__ for p in PROCESSES]


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_corrupt_has_the_closed_form_marginal(process: GaussianPath) -> None:
    """x_t | x0 ~ N(alpha x0, sigma^2): Monte Carlo mean and std over 20000 noise draws at 4 times."""
    generator = torch.Generator().manual_seed(0)
    t = torch.tensor([0.05, 0.3, 0.6, 0.95], dtype=torch.float64).repeat_interleave(20000)
    x0 = torch.full((t.shape[0], 1), 1.5, dtype=torch.float64)
    x_t = process.corrupt(x0, t, process.sample_noise(x0, generator)).reshape(4, 20000)
    alpha, sigma = process.alpha(t[::20000]), process.sigma(t[::20000])
    torch.testing.assert_close(x_t.mean(1), 1.5 * alpha, atol=0.03 * float(sigma.max()), rtol=0.0)
    torch.testing.assert_close(x_t.std(1), sigma, rtol=0.02, atol=0.0)


def _autograd_derivative(fn: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    leaf = t.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad((fn(leaf) + 0.0 * leaf).sum(), leaf)
    return grad


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_closed_form_derivatives_match_autograd(process: GaussianPath) -> None:
    t = torch.linspace(0.02, 0.98, 25, dtype=torch.float64)
    torch.testing.assert_close(process.d_alpha(t), _autograd_derivative(process.alpha, t))
    torch.testing.assert_close(process.d_sigma(t), _autograd_derivative(process.sigma, t))


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_log_snr_decreases_and_inverts(process: GaussianPath) -> None:
    t = torch.linspace(0.01, 0.99, 50, dtype=torch.float64)
    lam = process.log_snr(t)
    assert (lam.diff() < 0).all()
    torch.testing.assert_close(process.t_from_log_snr(lam), t)


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_prior_scale_is_sigma_at_one(process: GaussianPath) -> None:
    draws = process.prior((100_000,), torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.testing.assert_close(draws.std(), process.sigma(torch.tensor(1.0, dtype=torch.float64)), rtol=0.01,
                               atol=0.0)


def test_clean_data_endpoints() -> None:
    zero, one = torch.zeros(1, dtype=torch.float64), torch.ones(1, dtype=torch.float64)
    for process in (VPLinear(), VPCosine(), EDM(), LinearInterpolant(), TrigInterpolant()):
        assert float(process.alpha(zero)) == pytest.approx(1.0) and float(process.sigma(zero)) == 0.0
    for process in (VPCosine(), LinearInterpolant(), TrigInterpolant()):
        assert float(process.alpha(one)) == pytest.approx(0.0, abs=1e-12)
    assert float(VE().sigma(zero)) == pytest.approx(VE().sigma_min)
