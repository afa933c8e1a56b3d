"""Forecast metrics on hand-made cases, and constant-velocity extrapolation."""

from __future__ import annotations

import pytest
import torch

from genforge.domains.trajectories.metrics import constant_velocity, displacement_errors, forecast_metrics


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
