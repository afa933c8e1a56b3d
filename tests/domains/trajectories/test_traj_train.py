"""Tiny seeded train -> sample -> evaluate runs: GeoTDM learns to forecast uniformly accelerated motion
clearly better than constant velocity (its initial prior); the unconditional model trains and samples
CoM-free trajectories (GeoTDM and the transformer baseline); the loss weighting matches the preconditioning."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.nets.init import seeded
from genforge.core.processes import CoMFreeGaussian
from genforge.core.train import TrainConfig, Trainer
from genforge.domains.trajectories.baselines import BaselineConfig, TrajTransformer
from genforge.domains.trajectories.diffusion import (
    Preconditioned,
    forecast_loss,
    generation_loss,
    noise_level_weight,
    sample_forecasts,
    sample_trajectories,
)
from genforge.domains.trajectories.metrics import constant_velocity, forecast_metrics
from genforge.domains.trajectories.model import GeoTDM, GeoTDMConfig, TrajCondition
from genforge.domains.trajectories.tasks import PROCESS

N, TC, TF = 3, 4, 4


def _accelerated_motion(num: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    start = torch.randn(num, 1, N, 3, generator=generator)
    velocity = 0.3 * torch.randn(num, 1, N, 3, generator=generator)
    acceleration = 0.1 * torch.randn(num, 1, N, 3, generator=generator)
    time = torch.arange(TC + TF, dtype=torch.float32)[None, :, None, None]
    return start + time * velocity + 0.5 * time.square() * acceleration, torch.ones(num, N, 1)


def _assert_training_lowers_the_loss(model: torch.nn.Module, loss, data: tuple, out_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """30 Adam steps lower ``loss`` on ``data`` (same loss seed before and after)."""
    with torch.no_grad():
        before = float(loss(model, data, torch.Generator().manual_seed(1)))
    train = TrainConfig(steps=30, batch_size=32, lr=1e-2, ema_decay=None, progress=False, out_dir=out_dir)
    Trainer(model, loss, data, train).train()
    with torch.no_grad():
        assert float(loss(model, data, torch.Generator().manual_seed(1))) < before


def test_geotdm_learns_to_forecast_accelerated_motion(tmp_path: Path) -> None:
    traj, nodes = _accelerated_motion(160)
    cfg = GeoTDMConfig(node_dim=1, hidden=16, layers=1, prior_layers=1, cond_frames=TC, future_frames=TF, time_dim=8)
    with seeded(0):
        model = Preconditioned(GeoTDM(cfg), PROCESS, sigma_data=0.3)
    train = TrainConfig(steps=200, batch_size=32, lr=1e-2, ema_decay=None, progress=False, out_dir=tmp_path)
    Trainer(model, forecast_loss(PROCESS, TC, prior_weight=1.0), (traj[:128], nodes[:128]), train).train()
    held_out, held_nodes = traj[128:], nodes[128:]
    samples = sample_forecasts(model.eval(), PROCESS, TrajCondition(held_nodes, held_out[:, :TC]), 2, steps=20)
    assert samples.shape == (32, 2, TF, N, 3)
    geotdm = forecast_metrics(samples, held_out[:, TC:])
    cv = forecast_metrics(constant_velocity(held_out[:, :TC], TF)[:, None], held_out[:, TC:])
    assert geotdm["ade"] < 0.6 * cv["ade"], (geotdm, cv)
    assert geotdm["min_ade"] <= geotdm["ade"]


def test_unconditional_geotdm_trains_and_samples_com_free(tmp_path: Path) -> None:
    traj, nodes = _accelerated_motion(64)
    process = CoMFreeGaussian(PROCESS)
    cfg = GeoTDMConfig(node_dim=1, hidden=8, layers=1, cond_frames=0, future_frames=TC + TF, time_dim=8)
    with seeded(0):
        model = Preconditioned(GeoTDM(cfg), PROCESS, sigma_data=1.0)
    loss = generation_loss(process)
    _assert_training_lowers_the_loss(model, loss, (traj, nodes), tmp_path)
    samples = sample_trajectories(model.eval(), process, nodes[:4], TC + TF, steps=10, seed=3)
    assert samples.shape == (4, TC + TF, N, 3) and torch.isfinite(samples).all()
    assert samples.mean(dim=(1, 2)).abs().max() < 1e-5


def test_one_forecast_loss_call_gives_every_trainable_parameter_a_gradient() -> None:
    """What DDP without unused-parameter search needs: the prior runs inside the model call and no trainable
    parameter (e.g. a coordinate head whose output is discarded) is left without a gradient."""
    traj, nodes = _accelerated_motion(8)
    cfg = GeoTDMConfig(node_dim=1, hidden=8, layers=1, prior_layers=2, cond_frames=TC, future_frames=TF, time_dim=8)
    with seeded(0):
        model = Preconditioned(GeoTDM(cfg), PROCESS, sigma_data=0.3)
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(module))
    loss, _ = forecast_loss(PROCESS, TC)(model, (traj, nodes), torch.Generator().manual_seed(0))
    loss.backward()
    missing = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not missing and len(calls) == 2  # the outer training pass and the denoiser call inside it
    assert model.net.prior_net.head.weight.grad.abs().sum() > 0


def test_noise_level_weight_makes_the_network_error_count_alike_at_every_level() -> None:
    """w(t) c_out(t)^2 = sigma_d^2 for the preconditioning's c_out: the weighted x0 loss is the network's own
    squared error times sigma_d^2 at every noise level (and w -> 1 at pure noise)."""
    t = torch.tensor([1e-4, 0.01, 0.3, 1.0], dtype=torch.float64)
    sigma_data = 0.3
    alpha, sigma = PROCESS.alpha(t), PROCESS.sigma(t)
    c_out = sigma * sigma_data / ((alpha * sigma_data).square() + sigma.square()).sqrt()
    weight = noise_level_weight(PROCESS, t, sigma_data)
    assert torch.allclose(weight * c_out.square(), torch.full_like(t, sigma_data**2))
    assert weight[-1] == pytest.approx(1.0, abs=1e-3) and weight[0] > 1e2


def test_unconditional_transformer_trains_and_samples_com_free(tmp_path: Path) -> None:
    traj, nodes = _accelerated_motion(64)
    process = CoMFreeGaussian(PROCESS)
    with seeded(0):
        model = Preconditioned(TrajTransformer(BaselineConfig(hidden=16, layers=1, cond_frames=0,
                                                              future_frames=TC + TF, time_dim=8)), PROCESS, 1.0)
    loss = generation_loss(process, augment=True, sigma_data=1.0)
    _assert_training_lowers_the_loss(model, loss, (traj, nodes), tmp_path)
    samples = sample_trajectories(model.eval(), process, nodes[:4], TC + TF, steps=5, seed=3)
    assert samples.shape == (4, TC + TF, N, 3) and samples.mean(dim=(1, 2)).abs().max() < 1e-5
