"""Run output on rank 0: a rich progress bar and log lines, tensorboard scalars, ``metrics.jsonl``.

``metrics.jsonl`` holds one JSON object per logged step (``{"step": 100, "loss": ..., "lr": ...}``);
on resume, records after the restored step (written by the interrupted run) are dropped first, so the
file always describes one consistent run. Tensorboard is imported only when enabled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from genforge.core.atomic import atomic_write_bytes

METRICS_NAME = "metrics.jsonl"
RECIPE_NAME = "config.yaml"


def write_recipe(config: Mapping[str, Any], path: str | Path) -> None:
    """The run's resolved recipe as YAML (what ``genforge train --config`` reads back), written atomically."""
    import yaml

    atomic_write_bytes(path, yaml.safe_dump(dict(config), sort_keys=False).encode())


class MetricsLog:
    """Append-only JSON-lines file of ``{"step": int, name: float, ...}`` records."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, step: int, scalars: Mapping[str, float]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        record = {"step": step, **{name: _json_number(value) for name, value in scalars.items()}}
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def records(self) -> list[dict[str, Any]]:
        """Every record, in file order."""
        if not self.path.is_file():
            return []
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line]

    def truncate_after(self, step: int) -> None:
        """Drop records with ``"step" > step`` (atomic rewrite)."""
        kept = [record for record in self.records() if record["step"] <= step]
        if self.path.is_file():
            atomic_write_bytes(self.path, "".join(json.dumps(record) + "\n" for record in kept).encode())


def _json_number(value: float) -> float | str:
    """JSON has no NaN / inf: store those as strings."""
    return value if math.isfinite(value) else str(value)


class RunLogger:
    """Console, progress bar, tensorboard and JSONL output of one training run (silent when disabled).

    Use as a context manager around the training loop.

    Args:
        out_dir: run folder (``metrics.jsonl``, ``tb/``).
        total_steps: the run's final step, for the progress bar.
        start_step: first step of this (possibly resumed) run.
        enabled: False on ranks other than 0: nothing is shown or written.
        progress: show the progress bar and a console line per logged step.
        tensorboard: write tensorboard scalars under ``out_dir/tb``.
    """

    def __init__(self, out_dir: str | Path, *, total_steps: int, start_step: int = 0, enabled: bool = True,
                 progress: bool = True, tensorboard: bool = False):
        self.enabled = enabled
        self.metrics = MetricsLog(Path(out_dir) / METRICS_NAME)
        self.console = Console(stderr=True)
        self.progress = None
        self.writer = None
        if not enabled:
            return
        self.metrics.truncate_after(start_step)
        if progress:
            self.progress = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                TextColumn("loss {task.fields[loss]}  lr {task.fields[lr]}"), console=self.console)
            self.task_id = self.progress.add_task("train", total=total_steps, completed=start_step,
                                                  loss="-", lr="-")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(log_dir=str(Path(out_dir) / "tb"), purge_step=start_step or None)

    def __enter__(self) -> RunLogger:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self.progress is not None:
            self.progress.stop()
        if self.writer is not None:
            self.writer.close()

    def advance(self, step: int, loss: float, lr: float) -> None:
        """Move the progress bar to ``step`` and show the latest loss and learning rate."""
        if self.progress is not None:
            self.progress.update(self.task_id, completed=step, loss=f"{loss:.4g}", lr=f"{lr:.3g}")

    def log(self, step: int, scalars: Mapping[str, float]) -> None:
        """Record window-averaged scalars at ``step`` (JSONL, tensorboard, console line)."""
        if not self.enabled:
            return
        self.metrics.append(step, scalars)
        if self.writer is not None:
            for name, value in scalars.items():
                self.writer.add_scalar(f"train/{name}", value, step)
        if self.progress is not None:
            text = "  ".join(f"{name} {value:.4g}" for name, value in scalars.items())
            self.progress.console.print(f"step {step}  {text}", highlight=False)

    def message(self, text: str) -> None:
        """A one-line note on the console (e.g. "resumed from ...")."""
        if self.enabled and self.progress is not None:
            self.progress.console.print(text, highlight=False)
