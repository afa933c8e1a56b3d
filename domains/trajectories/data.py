"""Trajectory sets, train / held-out splits and window sampling for the trajectory tasks.

A :class:`TrajectorySet` holds dense trajectories ``pos [S, T, N, 3]`` and invariant per-particle features
``node_features [S, N, F]``. Training batches are random windows of ``span`` frames (random system, random
start; deterministic in the trainer's data generator); evaluation uses fixed windows.

* ``nbody``: charged 5-body systems (datasets.nbody); train and held-out systems are simulated with
  different seeds; features are the charges (F = 1); held-out windows start at frame 0.
* ``md``: xTB MD runs (Langevin or NVE) of one molecule (datasets.md_trajectories); the last ``md_heldout_runs``
  runs are held out; features are one-hot elements; held-out windows start every ``eval_stride`` frames of the
  held-out runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from genforge.core.errors import ConfigError, DataError

if TYPE_CHECKING:
    from genforge.datasets.md_trajectories import MDConfig


@dataclass(frozen=True)
class TrajectorySet:
    """Dense trajectories ``pos [S, T, N, 3]``, features ``node_features [S, N, F]``, ``species [N]`` (atomic
    numbers, for writing files; 0 = generic particle)."""

    pos: Tensor
    node_features: Tensor
    species: Tensor

    def __post_init__(self) -> None:
        if self.pos.dim() != 4 or self.pos.shape[-1] != 3:
            raise DataError(f"trajectories must be [S, T, N, 3], got {tuple(self.pos.shape)}", field="pos")
        if not torch.isfinite(self.pos).all():
            raise DataError("trajectories contain NaN or inf", field="pos")
        if self.node_features.shape[:2] != (self.pos.shape[0], self.pos.shape[2]):
            raise DataError(f"node features {tuple(self.node_features.shape)} do not match trajectories "
                            f"{tuple(self.pos.shape)}", field="node_features")


def one_hot_species(species: Tensor) -> Tensor:
    """One-hot over the distinct elements present, in increasing Z: ``[N] -> [N, E]``."""
    elements = torch.unique(species)
    return (species[:, None] == elements[None, :]).float()


def nbody_sets(num_train: int, num_val: int, seed: int) -> tuple[TrajectorySet, TrajectorySet]:
    """(train, held-out) charged N-body sets simulated with seeds ``seed`` and ``seed + 1``."""
    from genforge.datasets.nbody import load_nbody

    def make(num: int, s: int) -> TrajectorySet:
        data = load_nbody(num, s)
        return TrajectorySet(data.pos, data.charges[..., None], torch.zeros(data.pos.shape[2], dtype=torch.long))

    return make(num_train, seed), make(num_val, seed + 1)


def md_sets(md: MDConfig, num_runs: int, seed: int, heldout_runs: int = 1) -> tuple[TrajectorySet, TrajectorySet]:
    """(train, held-out) MD sets of the runs ``md`` describes: runs ``0 .. num_runs - heldout_runs - 1`` and the
    last ``heldout_runs``."""
    from genforge.datasets.md_trajectories import load_md

    if heldout_runs < 1:
        raise ConfigError(f"must be >= 1, got {heldout_runs}", field="md_heldout_runs")
    if num_runs <= heldout_runs:
        raise ConfigError(f"must exceed md_heldout_runs = {heldout_runs} (the last runs are held out), got {num_runs}",
                          field="md_runs")
    data = load_md(num_runs, seed, md)
    features = one_hot_species(data.species)

    def make(pos: Tensor) -> TrajectorySet:
        return TrajectorySet(pos, features[None].expand(pos.shape[0], -1, -1).contiguous(), data.species)

    return make(data.pos[:-heldout_runs]), make(data.pos[-heldout_runs:])


def window_batches(data: TrajectorySet, span: int, batch_size: int, *,
                   time_reversal: bool = False) -> Callable[[int, torch.Generator], tuple[Tensor, Tensor]]:
    """``batch_fn(step, generator)`` for the core Trainer: ``batch_size`` (the global batch) random windows of
    ``span`` frames, ``(windows [B, span, N, 3], node_features [B, N, F])``.

    With ``time_reversal`` each window is played backwards with probability 1/2 (augmentation for data whose
    position paths are reversible in distribution, such as equilibrium Langevin MD).
    """
    S, T = data.pos.shape[:2]
    if span > T:
        raise ConfigError(f"needs trajectories of >= {span} frames, the data have {T}", field="future_frames")

    def batch_fn(step: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        system = torch.randint(0, S, (batch_size,), generator=generator)
        start = torch.randint(0, T - span + 1, (batch_size,), generator=generator)
        offsets = torch.arange(span)[None].expand(batch_size, -1)
        if time_reversal:
            backwards = torch.rand(batch_size, generator=generator) < 0.5
            offsets = torch.where(backwards[:, None], span - 1 - offsets, offsets)
        return data.pos[system[:, None], start[:, None] + offsets], data.node_features[system]

    return batch_fn


def eval_windows(data: TrajectorySet, span: int, stride: int | None, limit: int) -> tuple[Tensor, Tensor]:
    """Fixed windows ``([W, span, N, 3], [W, N, F])``: start 0 of each system, or every ``stride`` frames."""
    T = data.pos.shape[1]
    starts = [0] if stride is None else list(range(0, T - span + 1, stride))
    windows = torch.cat([data.pos[:, s:s + span] for s in starts])[:limit]
    features = data.node_features.repeat(len(starts), 1, 1)[:limit]
    return windows, features
