"""``TrainConfig``: every knob of :class:`~genforge.core.train.trainer.Trainer`, one YAML section."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genforge.core.errors import ConfigError


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, EMA, guard, logging and checkpoint settings of a training run.

    Args:
        steps: optimiser steps to run (skipped non-finite steps count).
        batch_size: global batch size, split evenly over DDP ranks.
        lr: peak learning rate of AdamW.
        warmup_steps: linear warm-up length in steps.
        schedule: ``"cosine"`` decay to ``min_lr_ratio * lr`` after warm-up, or ``"constant"``.
        min_lr_ratio: final learning rate as a fraction of ``lr`` (cosine only).
        weight_decay: AdamW decoupled weight decay.
        betas: AdamW moment decay rates.
        grad_clip: maximum global gradient L2 norm, None for no clipping.
        ema_decay: EMA decay, None for no EMA.
        ema_start: step from which the EMA averages; before it the EMA copies the weights.
        nonfinite_max: abort with TrainingError after this many non-finite losses in a row.
        log_every: steps between logged (window-averaged) metrics.
        ckpt_every: steps between checkpoints (one is also written at the end).
        keep_last: ``step_*.pt`` files kept besides ``last.pt``.
        seed: seeds the batch order, the loss generator and torch's global generator (dropout).
        out_dir: folder for checkpoints, ``metrics.jsonl`` and ``tb/``.
        tensorboard: also write tensorboard scalars (rank 0).
        progress: show a rich progress bar and log lines (rank 0).
        find_unused_parameters: DDP only: let forward passes leave some parameters unused (costs a graph
            walk per step); parameters used outside the model's forward are never synchronised.
        precision: ``"fp32"``, or ``"bf16"`` autocast of the forward pass and loss on CUDA (weights,
            optimizer and gradients stay float32; on CPU the run stays float32, so recipes are portable).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    warmup_steps: int = 0
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.0
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float | None = 1.0
    ema_decay: float | None = 0.999
    ema_start: int = 0
    nonfinite_max: int = 10
    log_every: int = 50
    ckpt_every: int = 1000
    keep_last: int = 3
    seed: int = 0
    out_dir: Path = Path("runs/default")
    tensorboard: bool = False
    progress: bool = True
    find_unused_parameters: bool = False
    precision: Literal["fp32", "bf16"] = "fp32"

    def __post_init__(self) -> None:
        checks = (
            ("steps", self.steps >= 0, ">= 0"),
            ("batch_size", self.batch_size >= 1, ">= 1"),
            ("lr", self.lr > 0, "> 0"),
            ("warmup_steps", self.warmup_steps >= 0, ">= 0"),
            ("min_lr_ratio", 0.0 <= self.min_lr_ratio <= 1.0, "in [0, 1]"),
            ("weight_decay", self.weight_decay >= 0, ">= 0"),
            ("betas", all(0.0 <= beta < 1.0 for beta in self.betas), "each in [0, 1)"),
            ("grad_clip", self.grad_clip is None or self.grad_clip > 0, "> 0 or null"),
            ("ema_decay", self.ema_decay is None or 0.0 <= self.ema_decay < 1.0, "in [0, 1) or null"),
            ("ema_start", self.ema_start >= 0, ">= 0"),
            ("nonfinite_max", self.nonfinite_max >= 1, ">= 1"),
            ("log_every", self.log_every >= 1, ">= 1"),
            ("ckpt_every", self.ckpt_every >= 1, ">= 1"),
            ("keep_last", self.keep_last >= 0, ">= 0"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(f"must be {expected}, got {getattr(self, name)!r}", field=name)
