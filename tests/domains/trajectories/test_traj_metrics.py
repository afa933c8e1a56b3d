"""Forecast metrics on hand-made cases, and constant-velocity extrapolation."""

from __future__ import annotations

import pytest
import torch

from genforge.domains.trajectories.data import TrajectorySet, window_batches
from genforge.domains.trajectories.metrics import (
    constant_velocity,
    displacement_errors,
    fit_linear_extrapolation,
    forecast_metrics,
    linear_extrapolation,
)


def test_displacement_errors_by_hand() -> None:
    target = torch.zeros(2, 1, 3)  # Tf = 2 frames, 1 particle
    pred = torch.tensor([[[3.0, 4.0, 0.0]], [[0.0, 0.0, 1.0]]])  # errors 5 then 1
    ade, fde = displacement_errors(pred, target)
    assert float(ade) == pytest.approx(3.0) and float(fde) == pytest.approx(1.0)


def test_min_over_samples_is_taken_per_metric() -> None:
    target = torch.zeros(1, 2, 1, 3)
    # sample 0: errors (0, 4) -> ADE 2, FDE 4; sample 1: errors (3, 0) -> ADE 1.5, FDE 0
    samples = torch.zeros(1, 2, 2, 1, 3)
    samples[0, 0, 1, 0, 0] = 4.0
    samples[0, 1, 0, 0, 0] = 3.0
    metrics = forecast_metrics(samples, target)
    assert metrics == pytest.approx({"ade": 2.0, "fde": 4.0, "min_ade": 1.5, "min_fde": 0.0})


def test_constant_velocity_is_exact_on_uniform_motion() -> None:
    generator = torch.Generator().manual_seed(0)
    start, velocity = torch.randn(3, 1, 4, 3, generator=generator), torch.randn(3, 1, 4, 3, generator=generator)
    frames = torch.arange(9, dtype=torch.float32)[None, :, None, None]
    traj = start + frames * velocity
    forecast = constant_velocity(traj[:, :4], 5)
    assert torch.allclose(forecast, traj[:, 4:], atol=1e-5)
    assert forecast_metrics(forecast[:, None], traj[:, 4:])["fde"] < 1e-5


def _damped_motion(damping: torch.Tensor, systems: int, frames: int, seed: int) -> torch.Tensor:
    """``[S, T, N, 3]`` trajectories whose velocity shrinks by ``damping [N]`` per frame (a linear recurrence
    with weights 1 + a, -a on the last two frames: exactly a combination summing to one)."""
    generator = torch.Generator().manual_seed(seed)
    N = damping.shape[0]
    start, velocity = torch.randn(systems, N, 3, generator=generator), torch.randn(systems, N, 3, generator=generator)
    powers = damping[None, :] ** torch.arange(frames, dtype=torch.float64)[:, None]  # [T, N]
    displacement = torch.cumsum(powers, 0) - powers  # sum_{j < t} a^j
    return start[:, None] + displacement[None, :, :, None] * velocity[:, None]


def test_linear_extrapolation_fit_recovers_a_linear_recurrence() -> None:
    damping = torch.tensor([0.9, 0.6, 0.3], dtype=torch.float64)
    train, test = _damped_motion(damping, 20, 40, 0), _damped_motion(damping, 5, 30, 1)
    for cond in (10, 2):
        x_cond, target = test[:, 10 - cond:10], test[:, 10:]
        fitted = linear_extrapolation(x_cond, fit_linear_extrapolation(train, cond, 20, per_particle=True))
        assert forecast_metrics(fitted[:, None], target)["ade"] < 1e-5
    # from the last two frames only, one set of weights for all particles cannot follow three dampings
    shared = linear_extrapolation(x_cond, fit_linear_extrapolation(train, 2, 20))
    assert forecast_metrics(shared[:, None], target)["ade"] > 1e-2
    assert forecast_metrics(constant_velocity(x_cond, 20)[:, None], target)["ade"] > 1e-1


def test_time_reversal_plays_half_the_windows_backwards() -> None:
    frames = torch.arange(50, dtype=torch.float32)
    data = TrajectorySet(frames[None, :, None, None].expand(2, 50, 1, 3).contiguous(), torch.ones(2, 1, 1),
                         torch.zeros(1, dtype=torch.long))
    generator = torch.Generator().manual_seed(0)
    forward = window_batches(data, 6, 64)(0, generator)[0][:, :, 0, 0]
    assert (forward.diff(dim=1) == 1).all()
    mixed = window_batches(data, 6, 64, time_reversal=True)(0, generator)[0][:, :, 0, 0]
    backwards = (mixed.diff(dim=1) == -1).all(dim=1)
    assert ((mixed.diff(dim=1) == 1).all(dim=1) | backwards).all()  # every window is a run of frames, either way
    assert 16 < int(backwards.sum()) < 48
