"""Training for every domain: ``Trainer``, ``TrainConfig``, EMA, checkpoints, DDP helpers, run logging.

Names are imported lazily (PEP 562) so that ``import genforge.core.train.checkpoint`` stays light.
"""

from __future__ import annotations

from genforge.core.lazy import lazy_getattr

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

__getattr__ = lazy_getattr(__name__, _EXPORTS)
