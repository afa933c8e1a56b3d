"""Every prediction kind round-trips through (x0, eps) for every Gaussian path."""

from __future__ import annotations

import pytest
import torch

from genforge.core.parametrization import PREDICTION_KINDS, convert, from_x0_eps, to_x0_eps
from genforge.core.processes.gaussian import EDM, VE, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant, TrigInterpolant

PROCESSES: list[GaussianPath] = [VPLinear(), VPCosine(), VE(), EDM(), LinearInterpolant(), TrigInterpolant()]
IDS = [type(p).__name__ for p in PROCESSES]


Setup = tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]


def _setup(process: GaussianPath) -> Setup:
    """(x0, eps, x_t, coefficients) at 32 random times in (0.01, 0.99)."""
    generator = torch.Generator().manual_seed(0)
    t = torch.rand(32, generator=generator, dtype=torch.float64) * 0.98 + 0.01
    x0 = torch.randn(32, 3, 4, generator=generator, dtype=torch.float64)
    eps = torch.randn(32, 3, 4, generator=generator, dtype=torch.float64)
    return x0, eps, process.corrupt(x0, t, eps), process.coefficients(t, x0)


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
@pytest.mark.parametrize("kind", PREDICTION_KINDS)
def test_kind_to_x0_eps_and_back_is_identity(kind: str, process: GaussianPath) -> None:
    x0, eps, x_t, coeffs = _setup(process)
    pred = from_x0_eps(kind, x0, eps, *coeffs)
    x0_back, eps_back = to_x0_eps(kind, pred, x_t, *coeffs)
    torch.testing.assert_close(x0_back, x0)
    torch.testing.assert_close(eps_back, eps)
    torch.testing.assert_close(from_x0_eps(kind, x0_back, eps_back, *coeffs), pred)


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_convert_between_every_pair(process: GaussianPath) -> None:
    x0, eps, x_t, coeffs = _setup(process)
    for src in PREDICTION_KINDS:
        for dst in PREDICTION_KINDS:
            pred = from_x0_eps(src, x0, eps, *coeffs)
            expected = from_x0_eps(dst, x0, eps, *coeffs)
            torch.testing.assert_close(convert(pred, src, dst, x_t, *coeffs), expected)


def test_velocity_is_the_time_derivative_of_the_path() -> None:
    """velocity = d/dt (alpha x0 + sigma eps) at fixed (x0, eps), by central differences."""
    process = VPLinear()
    x0, eps, _, _ = _setup(process)
    t = torch.full((32,), 0.4, dtype=torch.float64)
    dt = 1e-6
    derivative = (process.corrupt(x0, t + dt, eps) - process.corrupt(x0, t - dt, eps)) / (2 * dt)
    velocity = from_x0_eps("velocity", x0, eps, *process.coefficients(t, x0))
    torch.testing.assert_close(derivative, velocity, rtol=1e-6, atol=1e-6)


def test_unknown_kind_is_rejected() -> None:
    x0, eps, x_t, coeffs = _setup(VPLinear())
    with pytest.raises(ValueError, match="unknown prediction kind"):
        from_x0_eps("noise", x0, eps, *coeffs)
    with pytest.raises(ValueError, match="unknown prediction kind"):
        to_x0_eps("noise", x0, x_t, *coeffs)
