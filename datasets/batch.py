"""Typed atom records and graph batches: the one container every molecule / crystal model takes.

``AtomsRecord`` is one structure as read from a file (float64, lossless); ``AtomsBatch`` is many
structures concatenated along the atom axis (PyG style, no padding), cast to the model dtype.

Design: a plain frozen dataclass rather than ``torch_geometric.data.Batch``. The fields are fixed and
typed (pos, species, batch, node_mask, frac, cell, properties), so shape checks happen once at
construction and a model cannot silently read a misspelt attribute; ``batch`` is exactly PyG's node-to-
graph vector, so PyG operators (``MessagePassing``, ``scatter``, ``radius_graph``) take the fields as they
are. Molecules and crystals may share a batch (ADiT trains on both): a graph without a cell gets a zero
cell and zero fractional coordinates, and ``split`` maps a zero cell back to ``None``.

Shapes (N atoms in B graphs):
    pos [N, 3] Angstrom, species [N] long (atomic numbers), batch [N] long (graph index, sorted),
    node_mask [N] bool (True for real atoms), frac [N, 3], cell [B, 3, 3] (rows are the lattice vectors
    a, b, c, so ``pos = frac @ cell``), properties: name -> [B].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from genforge.core.geometry.lattice import matrix_to_lattice_params


@dataclass(frozen=True)
class AtomsRecord:
    """One molecule or crystal.

    Args:
        species: ``[n]`` long, atomic numbers (1..118).
        pos: ``[n, 3]`` Cartesian positions in Angstrom.
        frac: ``[n, 3]`` fractional coordinates (crystals only; given together with ``cell``).
        cell: ``[3, 3]`` lattice vectors as rows, Angstrom (crystals only).
        name: identifier from the source (material_id, QM9 index, file comment...).
        properties: scalar labels (eV, Angstrom, radians as documented by the loader).
    """

    species: Tensor
    pos: Tensor
    frac: Tensor | None = None
    cell: Tensor | None = None
    name: str = ""
    properties: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.species.shape[0]
        if self.species.dim() != 1 or self.species.dtype != torch.long:
            raise ValueError(f"species must be a [n] long tensor, got {tuple(self.species.shape)} "
                             f"{self.species.dtype}")
        if self.pos.shape != (n, 3):
            raise ValueError(f"pos must be [{n}, 3], got {tuple(self.pos.shape)}")
        if (self.frac is None) != (self.cell is None):
            raise ValueError("frac and cell must be given together (crystal) or both omitted (molecule)")
        if self.frac is not None and self.frac.shape != (n, 3):
            raise ValueError(f"frac must be [{n}, 3], got {tuple(self.frac.shape)}")
        if self.cell is not None and self.cell.shape != (3, 3):
            raise ValueError(f"cell must be [3, 3], got {tuple(self.cell.shape)}")

    @property
    def num_atoms(self) -> int:
        return int(self.species.shape[0])

    @property
    def is_periodic(self) -> bool:
        return self.cell is not None


@dataclass(frozen=True)
class AtomsBatch:
    """Graphs concatenated along the atom axis; see the module docstring for shapes and units."""

    pos: Tensor
    species: Tensor
    batch: Tensor
    num_graphs: int
    node_mask: Tensor
    frac: Tensor | None = None
    cell: Tensor | None = None
    properties: Mapping[str, Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.species.shape[0]
        for name, value, shape in (("pos", self.pos, (n, 3)), ("batch", self.batch, (n,)),
                                   ("node_mask", self.node_mask, (n,))):
            if value.shape != shape:
                raise ValueError(f"{name} must be {list(shape)}, got {list(value.shape)}")
        if self.node_mask.dtype != torch.bool:
            raise ValueError(f"node_mask must be bool, got {self.node_mask.dtype}")
        if (self.frac is None) != (self.cell is None):
            raise ValueError("frac and cell must be given together or both omitted")
        if self.frac is not None and self.frac.shape != (n, 3):
            raise ValueError(f"frac must be [{n}, 3], got {list(self.frac.shape)}")
        if self.cell is not None and self.cell.shape != (self.num_graphs, 3, 3):
            raise ValueError(f"cell must be [{self.num_graphs}, 3, 3], got {list(self.cell.shape)}")
        for name, value in self.properties.items():
            if value.shape != (self.num_graphs,):
                raise ValueError(f"property {name!r} must be [{self.num_graphs}], got {list(value.shape)}")

    @property
    def num_atoms(self) -> Tensor:
        """``[B]`` long: atoms per graph (masked-out atoms included)."""
        return torch.bincount(self.batch, minlength=self.num_graphs)

    @property
    def periodic(self) -> Tensor:
        """``[B]`` bool: which graphs are crystals (non-zero cell)."""
        if self.cell is None:
            return torch.zeros(self.num_graphs, dtype=torch.bool, device=self.species.device)
        return self.cell.flatten(1).ne(0).any(dim=1)

    def lattice_params(self) -> tuple[Tensor, Tensor]:
        """Lengths ``[B, 3]`` (Angstrom) and angles ``[B, 3]`` (radians) of ``cell``."""
        if self.cell is None:
            raise ValueError("this batch has no cells (molecules only)")
        return matrix_to_lattice_params(self.cell)

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> AtomsBatch:
        """Move every tensor to ``device``; cast float fields (pos, frac, cell, properties) to ``dtype``."""

        def move(value: Tensor) -> Tensor:
            return value.to(device=device, dtype=dtype if value.is_floating_point() else None)

        return AtomsBatch(
            pos=move(self.pos), species=move(self.species), batch=move(self.batch),
            num_graphs=self.num_graphs, node_mask=move(self.node_mask),
            frac=None if self.frac is None else move(self.frac),
            cell=None if self.cell is None else move(self.cell),
            properties={name: move(value) for name, value in self.properties.items()})

    @classmethod
    def collate(cls, records: Sequence[AtomsRecord], dtype: torch.dtype = torch.float32) -> AtomsBatch:
        """Concatenate ``records`` into one batch (floats cast to ``dtype``); a DataLoader ``collate_fn``.

        Every record must carry the same property names. If any record is a crystal, molecules in the
        same batch get a zero cell and zero fractional coordinates.
        """
        if not records:
            raise ValueError("cannot collate an empty list of records")
        names = set(records[0].properties)
        if any(set(record.properties) != names for record in records):
            raise ValueError("all records in a batch must carry the same property names")
        num_graphs = len(records)
        species = torch.cat([record.species for record in records])
        counts = torch.tensor([record.num_atoms for record in records], device=species.device)
        pos = torch.cat([record.pos for record in records]).to(dtype)
        frac, cell = None, None
        if any(record.is_periodic for record in records):
            frac = torch.cat([pos.new_zeros(record.num_atoms, 3) if record.frac is None
                              else record.frac.to(dtype) for record in records])
            cell = torch.stack([pos.new_zeros(3, 3) if record.cell is None else record.cell.to(dtype)
                                for record in records])
        properties = {name: torch.tensor([float(record.properties[name]) for record in records], dtype=dtype,
                                         device=species.device) for name in sorted(names)}
        graph_index = torch.repeat_interleave(torch.arange(num_graphs, device=species.device), counts)
        return cls(pos=pos, species=species, batch=graph_index, num_graphs=num_graphs,
                   node_mask=torch.ones_like(species, dtype=torch.bool),
                   frac=frac, cell=cell, properties=properties)

    def split(self) -> list[AtomsRecord]:
        """Per-graph records (inverse of ``collate``); atoms with ``node_mask`` False are dropped."""
        keep = self.node_mask
        counts = torch.bincount(self.batch[keep], minlength=self.num_graphs).tolist()
        species = self.species[keep].split(counts)
        pos = self.pos[keep].split(counts)
        frac = self.frac[keep].split(counts) if self.frac is not None else [None] * self.num_graphs
        periodic = self.periodic.tolist()
        cells = list(self.cell.unbind(0)) if self.cell is not None else [None] * self.num_graphs
        values = {name: value.tolist() for name, value in self.properties.items()}
        return [AtomsRecord(species=species[g], pos=pos[g], frac=frac[g] if periodic[g] else None,
                            cell=cells[g] if periodic[g] else None,
                            properties={name: column[g] for name, column in values.items()})
                for g in range(self.num_graphs)]
