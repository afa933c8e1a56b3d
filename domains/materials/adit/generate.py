"""Structures from an ADiT checkpoint as :class:`AtomsRecord` (what ``genforge materials generate`` writes)."""

from __future__ import annotations

from dataclasses import replace

import torch

from genforge.core.errors import ConfigError, DataError
from genforge.core.train.inference import TrainedWeights
from genforge.datasets.batch import AtomsRecord

KINDS = {"molecule": 0, "crystal": 1}
"""``--kind`` -> dataset label of the joint model (0 = QM9 molecules, 1 = the crystal dataset)."""


def generate_records(trained: TrainedWeights, num: int, *, steps: int | None, seed: int, kind: str | None = None,
                     cfg_scale: float | None = None) -> list[AtomsRecord]:
    """``num`` molecules (default) or crystals of a ``materials.adit`` checkpoint.

    Args:
        trained: the checkpoint; steps: Euler steps (default: the recipe's); seed: random seed;
        kind: ``molecule`` or ``crystal``; cfg_scale: guidance scale (default: the recipe's).
    """
    from genforge.domains.materials.adit.flow_task import generate_many, load_adit
    from genforge.domains.materials.adit.representation import to_records

    kind = kind or "molecule"
    if kind not in KINDS:
        raise ConfigError(f"--kind must be one of {sorted(KINDS)}, got {kind!r}", field="--kind")
    model, cfg, _ = load_adit(trained)
    cfg = replace(cfg, sample_steps=steps or cfg.sample_steps,
                  cfg_scale=cfg.cfg_scale if cfg_scale is None else cfg_scale)
    atoms, _ = generate_many(model, KINDS[kind], num, cfg, seed)
    if not (torch.isfinite(atoms.pos).all() and torch.isfinite(atoms.lattice).all()):
        raise DataError("the model produced non-finite coordinates; try more --steps", source=trained.source)
    return to_records(atoms, f"adit_{kind}")
