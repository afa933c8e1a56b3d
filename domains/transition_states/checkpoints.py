"""Shipped TS models: one weights file (``<variant>_rdb7.pt``) plus a JSON card beside it.

The ``.pt`` holds ``{"format", "variant", "model": TsModelConfig fields, "sampler": {solver, steps},
"elements": atomic numbers seen in training, "state_dict"}`` (tensors and plain values only, read with
``weights_only=True``); the ``.json`` holds the recipe, the steps trained and the metrics reached. Both
are written to a temporary name and renamed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genforge.core.errors import CheckpointError
from genforge.core.train.checkpoint import load_checkpoint
from genforge.domains.transition_states.flow import VARIANTS, Variant
from genforge.domains.transition_states.model import TsFlowNet

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
PACKAGE_FORMAT = 1


@dataclass(frozen=True)
class TsModelConfig:
    """Size of :class:`TsFlowNet` (see its arguments)."""

    hidden: int = 64
    num_layers: int = 4
    num_rbf: int = 16
    cutoff: float = 6.0
    time_dim: int = 32
    bond_features: bool = False

    def build(self) -> TsFlowNet:
        return TsFlowNet(self.hidden, self.num_layers, num_rbf=self.num_rbf, cutoff=self.cutoff,
                         time_dim=self.time_dim, bond_features=self.bond_features)


@dataclass(frozen=True)
class PackagedModel:
    """A loaded model (eval mode, float32) with its variant, default sampler and the elements it knows."""

    model: nn.Module
    variant: Variant
    solver: str
    steps: int
    elements: tuple[int, ...]


def default_checkpoint(variant: Variant) -> Path:
    """``domains/transition_states/checkpoints/<variant>_rdb7.pt``."""
    return CHECKPOINT_DIR / f"{variant}_rdb7.pt"


def save_packaged(path: str | Path, model: nn.Module, variant: Variant, model_cfg: TsModelConfig, *,
                  solver: str, steps: int, elements: Sequence[int], card: dict[str, Any]) -> None:
    """Write the weights file and its JSON card (``path`` with suffix ``.json``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": PACKAGE_FORMAT, "variant": variant, "model": asdict(model_cfg),
               "sampler": {"solver": solver, "steps": steps}, "elements": sorted(int(z) for z in elements),
               "state_dict": {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}}
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(payload, partial)
    partial.replace(path)
    card_path = path.with_suffix(".json")
    partial = card_path.with_suffix(f".{os.getpid()}.tmp")
    partial.write_text(json.dumps({"variant": variant, "weights": path.name, **card}, indent=2) + "\n")
    partial.replace(card_path)


def load_packaged(path: str | Path) -> PackagedModel:
    """Read a weights file written by :func:`save_packaged`.

    Raises:
        CheckpointError: missing, unreadable, or not a TS model of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("file not found (train one with `genforge ts train` or pass --checkpoint)",
                              source=path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for truncated / foreign files
        raise CheckpointError(f"cannot be read as a TS model: {error}", source=path) from error
    if not isinstance(payload, dict) or payload.get("format") != PACKAGE_FORMAT:
        raise CheckpointError(f"not a TS model package of format {PACKAGE_FORMAT}", source=path)
    if payload.get("variant") not in VARIANTS:
        raise CheckpointError(f"variant {payload.get('variant')!r} is not one of {VARIANTS}", source=path,
                              field="variant")
    try:
        model = TsModelConfig(**payload["model"]).build()
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as error:
        raise CheckpointError(f"weights do not fit the model they declare: {error}", source=path) from error
    sampler = payload.get("sampler", {})
    if not {"solver", "steps"} <= sampler.keys() or "elements" not in payload:
        raise CheckpointError("missing the sampler or elements entry", source=path)
    return PackagedModel(model.eval(), payload["variant"], str(sampler["solver"]), int(sampler["steps"]),
                         tuple(int(z) for z in payload["elements"]))


@dataclass(frozen=True)
class RunModel:
    """The EMA weights of a training run's last checkpoint, built into a model, with its recipe and step."""

    model: nn.Module
    model_cfg: TsModelConfig
    recipe: dict[str, Any]
    step: int


def model_from_run(run_dir: str | Path) -> RunModel:
    """Load ``<run_dir>/last.pt`` of a ``transition_states.*`` run (EMA weights when the run kept an EMA).

    Raises:
        CheckpointError: no checkpoint, or one of another task.
    """
    path = Path(run_dir) / "last.pt"
    if not path.is_file():
        raise CheckpointError("no last.pt: train first (`genforge ts train --config ...`)", source=run_dir)
    state = load_checkpoint(path)
    recipe = state["config"]
    if not str(recipe.get("task", "")).startswith("transition_states."):
        raise CheckpointError(f"task {recipe.get('task')!r} is not a transition-state task", source=path)
    model_cfg = TsModelConfig(**recipe["model"])
    model = model_cfg.build()
    model.load_state_dict(state["ema"]["shadow"] if state.get("ema") is not None else state["model"])
    return RunModel(model.eval(), model_cfg, recipe, int(state["step"]))
