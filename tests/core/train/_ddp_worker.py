"""The DDP test's run, importable by name in spawned worker processes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import torch
from _train_toys import plain_loss, tiny_config, toy_data, toy_model
from torch import Tensor, nn

from genforge.core.train import Trainer, cleanup

STEPS = 4


def _recording(seen: list[Tensor]) -> Callable[[nn.Module, tuple[Tensor, Tensor], torch.Generator], Tensor]:
    def loss(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
        seen.append(batch[0].clone())
        return plain_loss(model, batch, generator)

    return loss


def run(out_dir: Path) -> tuple[Trainer, list[Tensor]]:
    """STEPS deterministic steps on the toy data; returns the trainer and the inputs each step saw."""
    seen: list[Tensor] = []
    cfg = tiny_config(out_dir, steps=STEPS, ckpt_every=2, lr=5e-2, warmup_steps=0)
    trainer = Trainer(toy_model(dropout=0.0), _recording(seen), toy_data(), cfg)
    trainer.train()
    return trainer, seen


def worker(rank: int, world_size: int, port: int, out_dir: Path, result_dir: Path) -> None:
    """One torchrun-like rank: environment as torchrun sets it, then the same run as a single process."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    try:
        trainer, seen = run(out_dir)
        torch.save({"model": trainer.model.state_dict(), "ema": trainer.ema.shadow, "seen": seen},
                   result_dir / f"rank{rank}.pt")
    finally:
        cleanup()
