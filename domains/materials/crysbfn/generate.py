"""Structures from a de novo CrysBFN checkpoint as :class:`AtomsRecord` (what ``genforge materials generate``
writes), and the records <-> arrays conversion it needs."""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.core.train.inference import TrainedWeights
from genforge.datasets.batch import AtomsRecord


def records_of(species: Tensor, frac: Tensor, cell: Tensor, num_atoms: Tensor, prefix: str) -> list[AtomsRecord]:
    """Flat arrays (species ``[N]``, frac ``[N, 3]``, cells ``[B, 3, 3]`` Angstrom, counts ``[B]``) -> records
    named ``<prefix>_<i>`` (float64, Cartesian positions = frac @ cell)."""
    counts = num_atoms.tolist()
    return [AtomsRecord(species=s.long(), pos=f.double() @ c.double(), frac=f.double(), cell=c.double(),
                        name=f"{prefix}_{index}")
            for index, (s, f, c) in enumerate(zip(species.split(counts), frac.split(counts), cell.unbind(0),
                                                  strict=True))]


def generate_records(trained: TrainedWeights, num: int, *, steps: int | None, seed: int,
                     progress: bool = True) -> list[AtomsRecord]:
    """``num`` crystals of a ``materials.crysbfn_gen`` checkpoint (``steps``: default the recipe's)."""
    from genforge.domains.materials.crysbfn.gen_task import generate_crystals, load_trained_gen_model

    model, cfg = load_trained_gen_model(trained)
    species, frac, cell, num_atoms = generate_crystals(model, cfg, num, steps or cfg.sample_steps, seed,
                                                       progress=progress)
    if not torch.isfinite(frac).all() or not torch.isfinite(cell).all():
        raise DataError("the model produced non-finite coordinates or cells; try more --steps",
                        source=trained.source)
    return records_of(species, frac, cell, num_atoms, "crysbfn")
