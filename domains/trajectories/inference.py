"""Forecast from a trajectory file with a trained model: checks, sampling, extended-XYZ output."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.domains.trajectories.io import Trajectory, read_extxyz, write_extxyz
from genforge.domains.trajectories.model import TrajCondition
from genforge.domains.trajectories.tasks import LoadedModel, forecast, node_features


def check_condition(loaded: LoadedModel, past: Trajectory, horizon: int, source: str | Path) -> None:
    """One clear :class:`DataError` when the observed trajectory cannot be fed to the model."""
    cfg = loaded.cfg
    if past.pos.shape[1] != loaded.species.numel():
        raise DataError(f"has {past.pos.shape[1]} particles, the checkpoint was trained on "
                        f"{loaded.species.numel()}", source=source, field="particles")
    if cfg.dataset == "md" and not torch.equal(past.species, loaded.species):
        raise DataError(f"elements {past.species.tolist()} differ from the checkpoint's {loaded.species.tolist()}",
                        source=source, field="species")
    if past.pos.shape[0] < cfg.cond_frames:
        raise DataError(f"has {past.pos.shape[0]} frames, the model conditions on the last {cfg.cond_frames}",
                        source=source, field="frames")
    if not 1 <= horizon <= cfg.future_frames:
        raise DataError(f"horizon must be in [1, {cfg.future_frames}] for this checkpoint, got {horizon}",
                        field="horizon")


def forecast_trajectory(loaded: LoadedModel, past: Trajectory, horizon: int, num_samples: int,
                        seed: int) -> Tensor:
    """``[K, horizon, N, 3]`` forecasts of the frames after ``past`` (its last ``cond_frames`` are used)."""
    cfg = loaded.cfg
    x_cond = past.pos[-cfg.cond_frames:][None]
    features = node_features(cfg, past.species, past.charges)[None]
    samples = forecast(loaded.model, loaded.kind, TrajCondition(features, x_cond),
                       replace(cfg, num_samples=num_samples), seed)
    return samples[0, :, :horizon]


def forecast_file(loaded: LoadedModel, condition: str | Path, horizon: int, num_samples: int, seed: int,
                  out: str | Path) -> Tensor:
    """Read ``condition`` (extxyz), forecast, write the K samples to ``out`` (extxyz); returns them."""
    past = read_extxyz(condition)
    check_condition(loaded, past, horizon, condition)
    samples = forecast_trajectory(loaded, past, horizon, num_samples, seed)
    write_extxyz(out, samples, past.species, past.charges if loaded.cfg.dataset == "nbody" else None,
                 info={"model": loaded.kind})
    return samples
