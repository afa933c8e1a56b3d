"""Time grids: descending float64 from t_max to exactly 0, with each family's spacing."""

from __future__ import annotations

import pytest
import torch

from genforge.core import grids
from genforge.core.processes.gaussian import EDM, VE, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant

PROCESSES: list[GaussianPath] = [VPLinear(), VPCosine(), VE(), EDM(), LinearInterpolant()]
IDS = [type(p).__name__ for p in PROCESSES]


def _ratio(process: GaussianPath, t: torch.Tensor) -> torch.Tensor:
    return process.sigma(t) / process.alpha(t)


def _assert_equally_spaced(values: torch.Tensor) -> None:
    steps = values.diff()
    torch.testing.assert_close(steps, torch.full_like(steps, float(steps.mean())))


def _check_shape(grid: torch.Tensor, n: int) -> None:
    assert grid.dtype == torch.float64 and grid.shape == (n + 1,)
    assert float(grid[-1]) == 0.0
    assert (grid.diff() < 0).all()


@pytest.mark.parametrize("n", [1, 7, 50])
def test_uniform_and_quadratic(n: int) -> None:
    for make in (grids.uniform, grids.quadratic):
        grid = make(n, t_max=0.8)
        _check_shape(grid, n)
        assert float(grid[0]) == 0.8
    torch.testing.assert_close(grids.uniform(n).diff(), torch.full((n,), -1.0 / n, dtype=torch.float64))
    steps = torch.arange(n, -1, -1, dtype=torch.float64) / n
    torch.testing.assert_close(grids.quadratic(n), steps.square())


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_karras_spacing(process: GaussianPath) -> None:
    """ratio_i^(1 / rho) is linear in i between the capped ratio at t_max and the ratio at t_min."""
    n, rho = 12, 7.0
    grid = grids.karras(n, process, rho=rho, t_min=1e-3)
    _check_shape(grid, n)
    root = _ratio(process, grid[:-1]) ** (1 / rho)
    _assert_equally_spaced(root)
    torch.testing.assert_close(grid[-2], torch.tensor(1e-3, dtype=torch.float64))
    top = min(float(_ratio(process, torch.tensor(1.0, dtype=torch.float64))), 80.0)
    torch.testing.assert_close(_ratio(process, grid[:1]), torch.tensor([top], dtype=torch.float64))


@pytest.mark.parametrize("process", PROCESSES, ids=IDS)
def test_log_snr_spacing(process: GaussianPath) -> None:
    n = 12
    grid = grids.log_snr(n, process, t_min=1e-4)
    _check_shape(grid, n)
    lam = process.log_snr(grid[:-1])
    _assert_equally_spaced(lam)
    torch.testing.assert_close(grid[-2], torch.tensor(1e-4, dtype=torch.float64))


def test_karras_rho_concentrates_steps_near_the_data() -> None:
    """Larger rho puts the middle of the ladder at smaller noise ratios."""
    process = EDM()
    middle = [float(_ratio(process, grids.karras(20, process, rho=rho)[10])) for rho in (1.0, 3.0, 7.0)]
    assert middle[0] > middle[1] > middle[2]
