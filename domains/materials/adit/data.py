"""ADiT's joint training data: QM9 molecules (label 0) and one crystal dataset (label 1) as :class:`AllAtoms`.

QM9 comes from qm9pack with EDM's split (``genforge.datasets.qm9``), or from a qm9pack-format CSV
(``qm9_csv``: all its rows are used for training and evaluation, for tests and small runs); crystals from a
CDVAE-format folder (``genforge.datasets.crystals``, train / val split of the repo). Batches are drawn per
kind (a batch is all molecules or all crystals, chosen with probability ``crystal_fraction``), so the short
crystal token sets are not padded to molecule length.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor

from genforge.core.errors import ConfigError
from genforge.datasets.atoms_dataset import AtomsDataset
from genforge.datasets.crystals import load_crystals
from genforge.datasets.qm9 import load_qm9_split, read_qm9_csv
from genforge.domains.materials.adit.representation import AllAtoms, concatenate, pack

MOLECULE_LABEL, CRYSTAL_LABEL = 0, 1
MAX_ATOMS = 32
"""Token slots of the packed data (QM9 has at most 29 atoms with hydrogens; perov_5 5, carbon_24 24)."""


@dataclass(frozen=True)
class ADiTData:
    """Which data ADiT trains on.

    Args:
        qm9_molecules: random subset (seeded) of EDM's QM9 train split; None = all 100,000; 0 = no molecules.
        qm9_csv: a qm9pack-format CSV used instead of qm9pack (train = val = its rows).
        remove_h: drop hydrogens from QM9 (EDM's ``remove_h``).
        crystals: CDVAE-format dataset folder under the data root (``perov_5``, ``carbon_24``, ``mp_20``),
            or null for molecules only.
        data_root: data root of the crystal folder (default ``$GENFORGE_DATA`` or ``../shared/data``).
        val_fraction: held-out share of a single-file crystal dataset.
        crystal_fraction: probability that a training batch is a crystal batch.
        seed: seed of the QM9 subset.
    """

    qm9_molecules: int | None = None
    qm9_csv: Path | None = None
    remove_h: bool = False
    crystals: str | None = "perov_5"
    data_root: Path | None = None
    val_fraction: float = 0.1
    crystal_fraction: float = 0.25
    seed: int = 0


def label_names(data: ADiTData) -> list[str]:
    """Dataset label names, index = label."""
    return ["qm9", data.crystals or "crystals"]


def load_qm9(data: ADiTData, split: Literal["train", "val"]) -> AtomsDataset | None:
    """The QM9 molecules of ``split`` (None when the recipe has none)."""
    if data.qm9_molecules == 0:
        return None
    if data.qm9_csv is not None:
        dataset = read_qm9_csv([data.qm9_csv], strict=True)
        dataset = dataset.keep_atoms(dataset.species != 1) if data.remove_h else dataset
    else:
        dataset = load_qm9_split(split, remove_h=data.remove_h)
    if split == "train" and data.qm9_molecules is not None and data.qm9_molecules < len(dataset):
        generator = torch.Generator().manual_seed(data.seed)
        chosen = torch.randperm(len(dataset), generator=generator)[:data.qm9_molecules].sort().values
        dataset = dataset.subset(chosen)
    return dataset


def load_split(data: ADiTData, split: Literal["train", "val"]) -> tuple[AllAtoms, AtomsDataset | None]:
    """Packed molecules and crystals of ``split`` and the raw QM9 dataset (for its SMILES)."""
    parts = []
    molecules = load_qm9(data, split)
    if molecules is not None:
        parts.append(pack(molecules, MOLECULE_LABEL, MAX_ATOMS))
    if data.crystals is not None:
        parts.append(pack(load_crystals(data.crystals, split, root=data.data_root, val_fraction=data.val_fraction),
                          CRYSTAL_LABEL, MAX_ATOMS))
    if not parts:
        raise ConfigError("the recipe has neither molecules nor crystals", field="data")
    return concatenate(parts), molecules


def lattice_statistics(atoms: AllAtoms) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation ``[6]`` of the crystals' scaled lattice (zeros / ones without crystals)."""
    lattice = atoms.lattice[atoms.periodic]
    if lattice.shape[0] < 2:
        return torch.zeros(6), torch.ones(6)
    return lattice.mean(0), lattice.std(0)


def kind_sampler(tensors: dict[str, Tensor], periodic: Tensor, mask: Tensor, batch_size: int,
                 crystal_fraction: float) -> Callable[[int, torch.Generator], dict[str, Tensor]]:
    """``batch_fn(step, generator)`` for the Trainer: ``batch_size`` random rows of ``tensors`` (each
    ``[M, ...]``), all molecules or, with probability ``crystal_fraction``, all crystals (``periodic [M]``);
    per-atom tensors (second dim = ``mask.shape[1]``) trimmed to the batch's longest structure."""
    pools = [(~periodic).nonzero().squeeze(1), periodic.nonzero().squeeze(1)]
    slots = mask.shape[1]

    def batch_fn(step: int, generator: torch.Generator) -> dict[str, Tensor]:
        crystal = bool(torch.rand((), generator=generator) < crystal_fraction)
        pool = pools[1] if (crystal and pools[1].numel()) or not pools[0].numel() else pools[0]
        index = pool[torch.randint(pool.numel(), (batch_size,), generator=generator)]
        length = max(int(mask[index].sum(dim=1).max()), 1)
        return {name: value[index, :length] if value.dim() > 1 and value.shape[1] == slots else value[index]
                for name, value in tensors.items()}

    return batch_fn


def batch_sampler(atoms: AllAtoms, batch_size: int, crystal_fraction: float
                  ) -> Callable[[int, torch.Generator], dict[str, Tensor]]:
    """:func:`kind_sampler` over the fields of ``atoms`` (batches are :meth:`AllAtoms.as_dict` dicts)."""
    return kind_sampler(atoms.as_dict(), atoms.periodic, atoms.mask, batch_size, crystal_fraction)
