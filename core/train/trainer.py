"""``Trainer``: AdamW + warm-up/cosine LR + clipping + EMA + non-finite guard + exact resume, for all domains.

One training step at step ``s`` (0-based):

1. set the learning rate to :func:`~genforge.core.train.schedule.learning_rate` ``(s)``;
2. take this rank's shard of global batch ``s`` from the data source (deterministic, resumable);
3. ``loss_fn(model, batch, generator)`` -> scalar loss (or ``(loss, metrics)``), backward (DDP averages
   gradients over ranks), clip the global gradient norm;
4. if the loss or the gradient norm is non-finite on any rank, skip the update (count it; raise
   :class:`~genforge.core.errors.TrainingError` after ``nonfinite_max`` in a row); otherwise AdamW step
   and EMA update.

Checkpoints (rank 0, every ``ckpt_every`` steps and at the end) hold the model, EMA, optimizer, step,
skip counters, the data position, every rank's RNG states and the resolved config, so a fresh
``Trainer`` + :meth:`Trainer.restore` continues bit-identically on CPU.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from genforge.core.config import dump_config
from genforge.core.errors import CheckpointError, ConfigError, TrainingError
from genforge.core.train import rng
from genforge.core.train.checkpoint import latest, load_checkpoint, save_rotating
from genforge.core.train.data import Batch, DataSpec, make_source
from genforge.core.train.distributed import (
    DistributedContext,
    all_reduce_mean,
    any_rank,
    barrier,
    gather_objects,
    init_distributed,
    unwrap_model,
    wrap_model,
)
from genforge.core.train.ema import EMA
from genforge.core.train.lock import RunLock
from genforge.core.train.logging import RECIPE_NAME, RunLogger, write_recipe
from genforge.core.train.schedule import learning_rate
from genforge.core.train.train_config import TrainConfig

LossOutput = Tensor | tuple[Tensor, Mapping[str, float | Tensor]]
LossFn = Callable[[nn.Module, Batch, torch.Generator], LossOutput]
CHECKPOINT_FORMAT = 1
_DATA_STREAM, _LOSS_STREAM, _GLOBAL_STREAM = 0, 1, 2


@dataclass(frozen=True)
class StepResult:
    """Outcome of one step: its index, this rank's loss and metrics, the LR, grad norm, whether skipped."""

    step: int
    loss: float
    lr: float
    grad_norm: float
    skipped: bool
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainSummary:
    """End of :meth:`Trainer.train`: final step, skipped steps in total, last checkpoint (rank 0)."""

    step: int
    skipped: int
    checkpoint: Path | None


class _Window:
    """Running sums of scalars between two log steps."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, scalars: Mapping[str, float]) -> None:
        for name, value in scalars.items():
            self.sums[name] = self.sums.get(name, 0.0) + value
        self.count += 1

    def means(self, context: DistributedContext) -> dict[str, float]:
        """Window means, averaged over ranks (every rank must call this at the same step)."""
        names = list(self.sums)
        local = torch.tensor([self.sums[name] / max(self.count, 1) for name in names], dtype=torch.float64)
        averaged = all_reduce_mean(local.to(context.device), context).tolist()
        self.sums, self.count = {}, 0
        return dict(zip(names, averaged, strict=True))


class Trainer:
    """Train ``model`` by minimising ``loss_fn`` on ``data`` as ``cfg`` says.

    Args:
        model: the network (on CPU; moved to the context's device and wrapped in DDP if distributed).
        loss_fn: ``loss_fn(model, batch, generator) -> loss`` or ``(loss, {name: value})``; the loss is a
            scalar mean over this rank's batch; ``generator`` (on the model's device, distinct per rank)
            is the only randomness it may use (noise, times).
        data: a tensor / tuple of tensors, :class:`~genforge.core.train.data.IndexedData` or
            ``batch_fn(step, generator) -> global batch`` (see :mod:`genforge.core.train.data`).
        cfg: the :class:`TrainConfig`.
        config_dict: resolved config stored in checkpoints (e.g. ``dump_task_config(name, cfg)``);
            defaults to ``dump_config(cfg)``.
        context: DDP context; None calls :func:`init_distributed` (single process unless under torchrun).
    """

    def __init__(self, model: nn.Module, loss_fn: LossFn, data: DataSpec, cfg: TrainConfig, *,
                 config_dict: Mapping[str, Any] | None = None, context: DistributedContext | None = None):
        self.cfg = cfg
        self.context = context if context is not None else init_distributed()
        if cfg.batch_size % self.context.world_size:
            raise ConfigError(f"must be divisible by the number of ranks ({self.context.world_size}), "
                              f"got {cfg.batch_size}", field="batch_size")
        self.config_dict = dict(config_dict) if config_dict is not None else dump_config(cfg)
        self.loss_fn = loss_fn
        rank = self.context.rank
        torch.manual_seed(rng.derived_seed(cfg.seed, _GLOBAL_STREAM, rank))
        self.loss_generator = torch.Generator(self.context.device)
        self.loss_generator.manual_seed(rng.derived_seed(cfg.seed, _LOSS_STREAM, rank))
        data_generator = torch.Generator().manual_seed(rng.derived_seed(cfg.seed, _DATA_STREAM))
        self.data = make_source(data, cfg.batch_size, self.context.shard, data_generator)
        self.wrapped = wrap_model(model, self.context, cfg.find_unused_parameters)
        self.model = unwrap_model(self.wrapped)
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, betas=cfg.betas,
                                           weight_decay=cfg.weight_decay)
        self.ema = EMA(self.model, cfg.ema_decay, cfg.ema_start) if cfg.ema_decay is not None else None
        self.step = 0
        self.skipped = 0
        self.consecutive_nonfinite = 0

    def train_step(self) -> StepResult:
        """Run step ``self.step`` (see the module docstring) and advance the step counter."""
        step, cfg = self.step, self.cfg
        lr = learning_rate(step, cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = _to_device(self.data.batch(step), self.context.device)
        self.optimizer.zero_grad(set_to_none=True)
        device = self.context.device
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=cfg.precision == "bf16" and device.type == "cuda"):
            loss, metrics = _split_loss(self.loss_fn(self.wrapped, batch, self.loss_generator))
        loss = loss.float()
        loss.backward()
        parameters = [p for p in self.model.parameters() if p.grad is not None]
        if cfg.grad_clip is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(parameters, cfg.grad_clip)
        else:
            grad_norm = torch.nn.utils.get_total_norm([p.grad for p in parameters])
        skipped = any_rank(not (torch.isfinite(loss) and torch.isfinite(grad_norm)), self.context)
        self.step += 1
        if skipped:
            self.optimizer.zero_grad(set_to_none=True)
            self.skipped += 1
            self.consecutive_nonfinite += 1
            if self.consecutive_nonfinite >= cfg.nonfinite_max:
                raise TrainingError(
                    f"non-finite loss or gradient for {self.consecutive_nonfinite} steps in a row (last at "
                    f"step {step}); lower train.lr, set train.grad_clip or check the data",
                    source=cfg.out_dir, field="nonfinite_max")
        else:
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model, step)
            self.consecutive_nonfinite = 0
        return StepResult(step=step, loss=float(loss.detach()), lr=lr, grad_norm=float(grad_norm),
                          skipped=skipped, metrics=metrics)

    def train(self, until: int | None = None) -> TrainSummary:
        """Run to step ``until`` (default and at most ``cfg.steps``); log every ``log_every`` steps and
        checkpoint every ``ckpt_every`` steps and at the end of the call."""
        cfg, last = self.cfg, None
        end = cfg.steps if until is None else min(until, cfg.steps)
        self.wrapped.train()
        window = _Window()
        with RunLock(cfg.out_dir) if self.context.is_main else contextlib.nullcontext(), RunLogger(
                cfg.out_dir, total_steps=cfg.steps, start_step=self.step, enabled=self.context.is_main,
                progress=cfg.progress, tensorboard=cfg.tensorboard) as logger:
            if self.context.is_main and self.config_dict:
                write_recipe(self.config_dict, Path(cfg.out_dir) / RECIPE_NAME)
            while self.step < end:
                result = self.train_step()
                finite = {} if result.skipped else {"loss": result.loss, "grad_norm": result.grad_norm,
                                                    **result.metrics}
                window.add({**finite, "lr": result.lr, "skipped": float(result.skipped)})
                logger.advance(self.step, result.loss, result.lr)
                if self.step % cfg.log_every == 0 or self.step == end:
                    logger.log(self.step, window.means(self.context))
                if self.step % cfg.ckpt_every == 0 or self.step == end:
                    last = self.save_checkpoint()
        return TrainSummary(step=self.step, skipped=self.skipped, checkpoint=last)

    def fit(self, *, resume: bool = False) -> nn.Module | None:
        """What a task's run function does: restore the latest checkpoint if ``resume``, train to the end,
        then return the model with its EMA weights copied in, in eval mode, on rank 0 (None on other ranks,
        which have nothing left to do)."""
        if resume:
            self.restore()
        self.train()
        if not self.context.is_main:
            return None
        if self.ema is not None:
            self.ema.copy_to(self.model)
        return self.model.eval()

    def state_dict(self) -> dict[str, Any]:
        """The checkpoint payload (collective under DDP: every rank must call it)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "step": self.step,
            "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
            "optimizer": self.optimizer.state_dict(),
            "data": self.data.state_dict(),
            "rng": gather_objects(rng.capture(self.loss_generator), self.context),
            "guard": {"skipped": self.skipped, "consecutive_nonfinite": self.consecutive_nonfinite},
            "config": self.config_dict,
        }

    def save_checkpoint(self) -> Path | None:
        """Write ``step_XXXXXXXX.pt`` and ``last.pt`` under ``cfg.out_dir`` (rank 0; returns its path)."""
        payload = self.state_dict()
        path = None
        if self.context.is_main:
            path = save_rotating(payload, self.cfg.out_dir, self.step, self.cfg.keep_last)
        barrier(self.context)
        return path

    def restore(self, path: str | Path | None = None) -> Path:
        """Continue from checkpoint ``path`` (default: the latest in ``cfg.out_dir``); returns the file used.

        Raises:
            CheckpointError: no checkpoint, a corrupted one, or one written for a different model / EMA.
        """
        path = Path(path) if path is not None else latest(self.cfg.out_dir)
        if path is None:
            raise CheckpointError("no checkpoint to resume from", source=self.cfg.out_dir)
        state = load_checkpoint(path)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint format {state.get('format')!r}, expected {CHECKPOINT_FORMAT}",
                                  source=path)
        try:
            if (self.ema is None) != (state["ema"] is None):
                raise ValueError("EMA enabled in one of the checkpoint and the config only (train.ema_decay)")
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            for group in self.optimizer.param_groups:  # the config, not the file, sets hyperparameters
                group.update(betas=self.cfg.betas, weight_decay=self.cfg.weight_decay)
            if self.ema is not None:
                self.ema.load_state_dict(state["ema"])
            self.data.load_state_dict(state["data"])
        except (KeyError, RuntimeError, ValueError) as err:
            raise CheckpointError(f"does not fit this run: {err}", source=path) from err
        self.step = state["step"]
        self.skipped = state["guard"]["skipped"]
        self.consecutive_nonfinite = state["guard"]["consecutive_nonfinite"]
        if len(state["rng"]) == self.context.world_size:
            rng.restore(state["rng"][self.context.rank], self.loss_generator)
        else:
            torch.manual_seed(rng.derived_seed(self.cfg.seed, _GLOBAL_STREAM, self.context.rank, self.step))
            self.loss_generator.manual_seed(
                rng.derived_seed(self.cfg.seed, _LOSS_STREAM, self.context.rank, self.step))
        return path


def _split_loss(output: LossOutput) -> tuple[Tensor, dict[str, float]]:
    """``(loss, metrics as floats)`` from a loss function's output."""
    if isinstance(output, tuple):
        loss, metrics = output
        return loss, {name: float(value.detach()) if isinstance(value, Tensor) else float(value)
                      for name, value in metrics.items()}
    return output, {}


def _to_device(batch: Batch, device: torch.device) -> Batch:
    """``batch`` with its tensors on ``device``: tensors and objects with ``.to`` (e.g. PyG batches),
    and tuples, named tuples, lists and dicts of them."""
    if isinstance(batch, dict):
        return {key: _to_device(item, device) for key, item in batch.items()}
    if isinstance(batch, (tuple, list)):
        items = [_to_device(item, device) for item in batch]
        return type(batch)(*items) if hasattr(batch, "_fields") else type(batch)(items)
    return batch.to(device) if hasattr(batch, "to") else batch
