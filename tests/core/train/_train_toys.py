"""A tiny regression problem, model and config shared by the trainer tests."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genforge.core.nets.init import seeded
from genforge.core.train import TrainConfig, Trainer


def toy_model(seed: int = 0, dropout: float = 0.1) -> nn.Module:
    """3 -> 16 -> 2 MLP; dropout draws from torch's global generator (exercises its save / restore)."""
    with seeded(seed):
        return nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Dropout(dropout), nn.Linear(16, 2))


def toy_data(size: int = 40, seed: int = 1) -> tuple[Tensor, Tensor]:
    """``(x [size, 3], y [size, 2])`` with y a fixed nonlinear function of x."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(size, 3, generator=generator)
    return x, torch.stack([x[:, 0] * x[:, 1], torch.sin(x[:, 2])], dim=1)


def noisy_loss(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator
               ) -> tuple[Tensor, dict[str, Tensor]]:
    """MSE on inputs jittered with the trainer's loss generator, plus an MAE metric."""
    x, y = batch
    error = model(x + 0.05 * torch.randn(x.shape, generator=generator)) - y
    return error.square().mean(), {"mae": error.abs().mean()}


def plain_loss(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Deterministic MSE (no randomness): DDP and single-process runs must agree."""
    x, y = batch
    return (model(x) - y).square().mean()


def tiny_config(out_dir: Path, **changes: Any) -> TrainConfig:
    base = TrainConfig(steps=12, batch_size=8, lr=1e-2, warmup_steps=3, min_lr_ratio=0.1, grad_clip=1.0,
                       ema_decay=0.9, weight_decay=0.01, log_every=2, ckpt_every=6, keep_last=3, seed=5,
                       out_dir=out_dir, progress=False)
    return replace(base, **changes)


def snapshot(trainer: Trainer) -> dict[str, Tensor]:
    """Every tensor of the training state: weights, EMA shadow, optimizer moments and step counts."""
    tensors = {f"model.{k}": v.clone() for k, v in trainer.model.state_dict().items()}
    if trainer.ema is not None:
        tensors |= {f"ema.{k}": v.clone() for k, v in trainer.ema.shadow.items()}
    for index, state in trainer.optimizer.state_dict()["state"].items():
        tensors |= {f"adam.{index}.{k}": v.clone() for k, v in state.items()}
    return tensors


def assert_identical(a: dict[str, Tensor], b: dict[str, Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
