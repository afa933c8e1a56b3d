"""Burgers solver: heat limit, manufactured solution (convergence order), refinement, adaptive step,
determinism, cache."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.datasets import burgers


def test_heat_limit_matches_discrete_and_continuous_decay() -> None:
    """Tiny amplitude, no forcing: a sine mode decays as exp(-nu lambda t) (advection is O(amplitude^2))."""
    amplitude = 1e-8
    x = burgers.storage_x()
    u0 = amplitude * torch.sin(math.pi * x).unsqueeze(0)
    u = burgers.simulate(u0, torch.zeros(1, 10, burgers.NUM_X, dtype=torch.float64), refine=1)
    t = torch.arange(11, dtype=torch.float64) / 10
    dx = 1.0 / (burgers.NUM_X + 1)
    discrete = (2.0 - 2.0 * math.cos(math.pi * dx)) / dx ** 2
    expected = torch.exp(-burgers.NU * discrete * t)[:, None] * u0
    assert torch.allclose(u[0], expected, rtol=0, atol=1e-6 * amplitude)
    continuous = torch.exp(-burgers.NU * math.pi ** 2 * t)[:, None] * u0
    gap = float((u[0] - continuous).abs().max() / amplitude)
    assert 1e-7 < gap < 1e-5  # the O(dx^2) error of the 3-point Laplacian, visible but small


def _manufactured_error(refine: int) -> float:
    """Max error at t = 0.5 against u* = sin(pi x) cos(2 t) + 0.5 sin(2 pi x) e^{-t} with matching forcing."""
    grid = burgers.BurgersGrid(refine)
    x = grid.x()

    def exact(t: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        s1, s2 = torch.sin(math.pi * x), torch.sin(2 * math.pi * x)
        c1, c2 = torch.cos(math.pi * x), torch.cos(2 * math.pi * x)
        u = s1 * math.cos(2 * t) + 0.5 * s2 * math.exp(-t)
        u_t = -2 * s1 * math.sin(2 * t) - 0.5 * s2 * math.exp(-t)
        u_x = math.pi * c1 * math.cos(2 * t) + math.pi * c2 * math.exp(-t)
        u_xx = -math.pi ** 2 * s1 * math.cos(2 * t) - 2 * math.pi ** 2 * s2 * math.exp(-t)
        return u, u_t, u_x, u_xx

    def forcing(t: float) -> torch.Tensor:
        u, u_t, u_x, u_xx = exact(t)
        return (u_t + u * u_x - grid.nu * u_xx).unsqueeze(0)

    steps = grid.steps_per_interval(0.5)
    u = burgers.rk3_steps(exact(0.0)[0].unsqueeze(0), forcing, 0.0, 0.5 / steps, steps, grid)
    return float((u[0] - exact(0.5)[0]).abs().max())


def test_manufactured_solution_converges_at_second_order() -> None:
    errors = [_manufactured_error(r) for r in (1, 2, 4)]
    orders = [math.log2(errors[i] / errors[i + 1]) for i in range(2)]
    assert errors[-1] < 1e-4
    assert all(1.8 < order < 2.3 for order in orders), (errors, orders)


def test_random_problem_converges_under_refinement() -> None:
    generator = torch.Generator().manual_seed(3)
    u0 = burgers.sample_u0(2, generator)
    f = burgers.sample_forcing(2, generator)[:, :8]  # first 0.8 time units
    runs = {r: burgers.simulate(u0, f, r) for r in (1, 2, 4, 8)}
    errors = [float((runs[r] - runs[8]).norm() / runs[8].norm()) for r in (1, 2, 4)]
    assert errors[0] > 2.5 * errors[1] > 2.5 * 2.5 * errors[2], errors
    assert errors[1] < 2e-3


def test_adaptive_step_takes_fewer_steps_with_the_same_solution() -> None:
    """Speed-limited step (actual max|u|) vs the fixed |u| <= 10 step: same trajectory to the time error."""
    generator = torch.Generator().manual_seed(4)
    u0 = burgers.sample_u0(3, generator)
    f = burgers.sample_forcing(3, generator)[:, :10]
    fixed = burgers.simulate(u0, f, 1)
    adaptive = burgers.simulate(u0, f, 1, adaptive=True)
    assert float((adaptive - fixed).norm() / fixed.norm()) < 1e-4
    grid = burgers.BurgersGrid(1)
    speed = 1.25 * float(u0.abs().max() + 0.1 * f.abs().max())
    assert grid.steps_per_interval(0.1, max(speed, 1.0)) < 0.5 * grid.steps_per_interval()


def test_generation_is_deterministic_and_chunk_invariant() -> None:
    first = burgers.generate(2, seed=5, refine=1, chunk=2)
    second = burgers.generate(2, seed=5, refine=1, chunk=1)
    assert first["u"].shape == (2, 81, 120) and first["f"].shape == (2, 80, 120)
    assert torch.equal(first["u"], second["u"]) and torch.equal(first["f"], second["f"])
    assert torch.isfinite(first["u"]).all()
    other = burgers.sample_forcing(2, torch.Generator().manual_seed(6))
    assert not torch.equal(first["f"], other.float())


def test_cached_generate_reuses_the_file(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = burgers.cached_generate(1, seed=0, refine=1, cache=tmp_path)
    monkeypatch.setattr(burgers, "generate", lambda *a, **k: pytest.fail("cache miss"))
    again = burgers.cached_generate(1, seed=0, refine=1, cache=tmp_path)
    assert torch.equal(data["u"], again["u"])


def test_to_fine_is_exact_on_piecewise_linear_and_keeps_storage_values() -> None:
    values = torch.randn(2, burgers.NUM_X, dtype=torch.float64)
    fine = burgers.to_fine(values, 3)
    assert torch.equal(fine[:, 2::3][:, :burgers.NUM_X], values)
    assert torch.allclose(fine[:, 3], (2 * values[:, 0] + values[:, 1]) / 3)
