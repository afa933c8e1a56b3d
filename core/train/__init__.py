"""Training for every domain: ``Trainer``, ``TrainConfig``, EMA, checkpoints, DDP helpers, run logging.

Names are imported lazily (PEP 562) so that ``import genforge.core.train.checkpoint`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Trainer": "trainer", "StepResult": "trainer", "TrainSummary": "trainer", "LossFn": "trainer",
    "TrainConfig": "train_config",
    "learning_rate": "schedule",
    "EMA": "ema",
    "IndexedData": "data", "Shard": "data", "shard_batch": "data",
    "load_checkpoint": "checkpoint", "write_checkpoint": "checkpoint", "latest": "checkpoint",
    "DistributedContext": "distributed", "init_distributed": "distributed", "cleanup": "distributed",
    "RunLogger": "logging", "MetricsLog": "logging",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
