"""A parsed dataset of molecules or crystals stored as flat tensors, batched by vectorised gathers.

Storage (M structures, N atoms in total): ``species [N]`` long, ``pos [N, 3]`` float64 Angstrom,
optional ``frac [N, 3]`` and ``cell [M, 3, 3]`` (crystals), ``num_atoms [M]``, ``source_rows [M]`` (row in
the source file, or the QM9 molecule index), ``names`` (M strings), ``properties`` (name -> ``[M]``
float64), ``strings`` (name -> M strings, e.g. SMILES or formulas) and ``skipped``: the source rows that
could not be parsed, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import torch
from torch import Tensor
from torch.utils.data import Dataset

from genforge.datasets.batch import AtomsBatch, AtomsRecord


class SkippedRow(NamedTuple):
    """A source row left out of a dataset: its index in the file, its identifier and why."""

    row: int
    name: str
    reason: str


def segment_gather_index(starts: Tensor, counts: Tensor) -> Tensor:
    """Flat indices ``[sum(counts)]`` of the segments ``starts[g] .. starts[g] + counts[g] - 1``, in order."""
    previous = counts.cumsum(0) - counts
    return torch.repeat_interleave(starts - previous, counts) + torch.arange(int(counts.sum()))


@dataclass(frozen=True)
class AtomsDataset(Dataset[AtomsRecord]):
    """Flat storage: ``dataset[i]`` is an ``AtomsRecord``, ``dataset.batch(indices)`` an ``AtomsBatch``."""

    species: Tensor
    pos: Tensor
    num_atoms: Tensor
    source_rows: Tensor
    names: Sequence[str]
    frac: Tensor | None = None
    cell: Tensor | None = None
    properties: Mapping[str, Tensor] = field(default_factory=dict)
    strings: Mapping[str, Sequence[str]] = field(default_factory=dict)
    skipped: Sequence[SkippedRow] = ()

    def __post_init__(self) -> None:
        count = self.num_atoms.shape[0]
        total = int(self.num_atoms.sum())
        if self.species.shape != (total,) or self.pos.shape != (total, 3):
            raise ValueError(f"species/pos must hold sum(num_atoms) = {total} atoms")
        if self.source_rows.shape != (count,) or len(self.names) != count:
            raise ValueError(f"source_rows and names must have one entry per structure ({count})")
        if (self.frac is None) != (self.cell is None):
            raise ValueError("frac and cell must be given together or both omitted")
        if self.cell is not None and self.cell.shape != (count, 3, 3):
            raise ValueError(f"cell must be [{count}, 3, 3], got {list(self.cell.shape)}")
        if any(value.shape != (count,) for value in self.properties.values()):
            raise ValueError(f"every property must be [{count}]")
        if any(len(value) != count for value in self.strings.values()):
            raise ValueError(f"every string column must have {count} entries")

    @property
    def ptr(self) -> Tensor:
        """``[M + 1]`` long: structure g owns atoms ``ptr[g] .. ptr[g + 1] - 1``."""
        return torch.cat([self.num_atoms.new_zeros(1), self.num_atoms.cumsum(0)])

    def __len__(self) -> int:
        return int(self.num_atoms.shape[0])

    def __getitem__(self, index: int) -> AtomsRecord:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} structures")
        index = index % len(self)
        start, stop = self.ptr[index].item(), self.ptr[index + 1].item()
        return AtomsRecord(
            species=self.species[start:stop], pos=self.pos[start:stop],
            frac=None if self.frac is None else self.frac[start:stop],
            cell=None if self.cell is None else self.cell[index], name=self.names[index],
            properties={name: value[index].item() for name, value in self.properties.items()})

    def batch(self, indices: Tensor | Sequence[int], dtype: torch.dtype = torch.float32) -> AtomsBatch:
        """The structures ``indices`` as one ``AtomsBatch`` (floats cast to ``dtype``), vectorised."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        counts = self.num_atoms[indices]
        atoms = segment_gather_index(self.ptr[indices], counts)
        return AtomsBatch(
            pos=self.pos[atoms].to(dtype), species=self.species[atoms],
            batch=torch.repeat_interleave(torch.arange(indices.shape[0]), counts),
            num_graphs=int(indices.shape[0]), node_mask=torch.ones(atoms.shape[0], dtype=torch.bool),
            frac=None if self.frac is None else self.frac[atoms].to(dtype),
            cell=None if self.cell is None else self.cell[indices].to(dtype),
            properties={name: value[indices].to(dtype) for name, value in self.properties.items()})

    def subset(self, indices: Tensor | Sequence[int]) -> AtomsDataset:
        """A new dataset holding the structures ``indices`` in that order (``skipped`` is kept)."""
        indices = torch.as_tensor(indices, dtype=torch.long)
        atoms = segment_gather_index(self.ptr[indices], self.num_atoms[indices])
        positions = indices.tolist()
        return AtomsDataset(
            species=self.species[atoms], pos=self.pos[atoms], num_atoms=self.num_atoms[indices],
            source_rows=self.source_rows[indices], names=[self.names[i] for i in positions],
            frac=None if self.frac is None else self.frac[atoms],
            cell=None if self.cell is None else self.cell[indices],
            properties={name: value[indices] for name, value in self.properties.items()},
            strings={name: [value[i] for i in positions] for name, value in self.strings.items()},
            skipped=self.skipped)

    def keep_atoms(self, mask: Tensor) -> AtomsDataset:
        """A new dataset with only the atoms where ``mask [N]`` is True (e.g. ``species != 1`` drops H)."""
        graph = torch.repeat_interleave(torch.arange(len(self)), self.num_atoms)
        return AtomsDataset(
            species=self.species[mask], pos=self.pos[mask],
            num_atoms=torch.bincount(graph[mask], minlength=len(self)), source_rows=self.source_rows,
            names=self.names, frac=None if self.frac is None else self.frac[mask], cell=self.cell,
            properties=self.properties, strings=self.strings, skipped=self.skipped)

    def to_payload(self) -> dict[str, Any]:
        """A dict of tensors, strings and lists that ``torch.load(..., weights_only=True)`` can read back."""
        return {"species": self.species, "pos": self.pos, "num_atoms": self.num_atoms,
                "source_rows": self.source_rows, "names": list(self.names), "frac": self.frac,
                "cell": self.cell, "properties": dict(self.properties),
                "strings": {name: list(value) for name, value in self.strings.items()},
                "skipped": [list(row) for row in self.skipped]}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AtomsDataset:
        """Inverse of ``to_payload``."""
        return cls(species=payload["species"], pos=payload["pos"], num_atoms=payload["num_atoms"],
                   source_rows=payload["source_rows"], names=payload["names"], frac=payload["frac"],
                   cell=payload["cell"], properties=payload["properties"], strings=payload["strings"],
                   skipped=[SkippedRow(*row) for row in payload["skipped"]])
