"""Trained weights for inference: read a Trainer checkpoint (EMA preferred), load it into a model, and
export a slim inference checkpoint (weights + config + metrics, no optimizer) for shipping.

A slim checkpoint has the same digest-verified layout as a training one (``format``, ``step``,
``model``, ``ema: None``, ``config``) plus ``metrics``; it cannot be resumed (no optimizer / RNG state).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from genforge.core.errors import CheckpointError
from genforge.core.train.checkpoint import load_checkpoint, write_checkpoint

INFERENCE_FORMAT = 1


@dataclass(frozen=True)
class TrainedWeights:
    """What inference needs from a checkpoint.

    Args:
        source: the file read.
        task: the registered task name (``config["task"]``), e.g. ``toy2d``.
        config: the resolved recipe as a plain dict (``{"task": ..., **fields}``).
        step: optimizer steps taken.
        weights: the EMA weights when the run kept an EMA (and ``prefer_ema``), else the raw ones.
        metrics: what the shipped checkpoint reached (empty for a training checkpoint).
    """

    source: Path
    task: str
    config: dict[str, Any]
    step: int
    weights: dict[str, Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)


def load_trained(path: str | Path, *, prefer_ema: bool = True) -> TrainedWeights:
    """Read a training or slim checkpoint; CheckpointError if it is not one written by genforge."""
    path = Path(path)
    payload = load_checkpoint(path)
    config = payload.get("config")
    if not isinstance(config, dict) or not isinstance(config.get("task"), str):
        raise CheckpointError("checkpoint has no resolved config with a 'task' key", source=path)
    ema = payload.get("ema")
    weights = ema["shadow"] if prefer_ema and isinstance(ema, dict) else payload.get("model")
    if not isinstance(weights, dict):
        raise CheckpointError("checkpoint holds no model weights", source=path)
    return TrainedWeights(path, config["task"], config, int(payload.get("step", 0)), weights,
                          dict(payload.get("metrics") or {}))


def load_into(model: nn.Module, trained: TrainedWeights) -> nn.Module:
    """Load ``trained.weights`` into ``model`` (strict); a key or shape mismatch is a CheckpointError
    saying the checkpoint belongs to another model or size."""
    expected = model.state_dict()
    missing = sorted(expected.keys() - trained.weights.keys())
    unexpected = sorted(trained.weights.keys() - expected.keys())
    wrong = sorted(key for key in expected.keys() & trained.weights.keys()
                   if expected[key].shape != trained.weights[key].shape)
    if missing or unexpected or wrong:
        detail = "; ".join(f"{label}: {', '.join(keys[:3])}{'...' if len(keys) > 3 else ''}"
                           for label, keys in (("missing", missing), ("unexpected", unexpected),
                                               ("shape differs", wrong)) if keys)
        raise CheckpointError(f"weights do not fit the {trained.task!r} model built from its config ({detail}): "
                              "a checkpoint of another model or size?", source=trained.source)
    model.load_state_dict(trained.weights)
    return model


def export_inference(trained: TrainedWeights, path: str | Path, metrics: Mapping[str, Any] | None = None) -> Path:
    """Write the slim checkpoint (weights, config, step, metrics) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_checkpoint({"format": INFERENCE_FORMAT, "step": trained.step,
                      "model": {key: value.detach().clone() for key, value in trained.weights.items()},
                      "ema": None, "config": trained.config,
                      "metrics": dict(metrics if metrics is not None else trained.metrics)}, path)
    return path
