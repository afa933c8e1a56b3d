r"""The all-atom representation ADiT shares between molecules and crystals (Joshi et al. 2025, sec. 3.1).

Every structure is a set of atom tokens padded to L, plus one dataset label:

* ``species [B, L]`` atomic numbers (0 on padding);
* ``pos [B, L, 3]`` Cartesian positions, centred on the atoms' mean, Angstrom (crystals: ``frac @ cell``);
* ``frac [B, L, 3]`` fractional coordinates in [0, 1) (zero for molecules);
* ``lattice [B, 6]`` lengths / n^(1/3) (Angstrom) and angles (radians), ADiT's size-scaled lattice (zero
  for molecules);
* ``label [B]`` the dataset / task index (e.g. 0 = QM9 molecule, 1 = perov_5 crystal), ``periodic [B]``;
* ``mask [B, L]`` True for real atoms.

A batch is carried through the Trainer as a plain dict of these tensors (:meth:`AllAtoms.as_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from genforge.core.geometry.lattice import lattice_params_to_matrix, matrix_to_lattice_params
from genforge.datasets.atoms_dataset import AtomsDataset, segment_gather_index
from genforge.datasets.batch import AtomsRecord


@dataclass(frozen=True)
class AllAtoms:
    """Padded all-atom structures; see the module docstring for shapes and units."""

    species: Tensor
    pos: Tensor
    frac: Tensor
    lattice: Tensor
    label: Tensor
    periodic: Tensor
    mask: Tensor

    def __len__(self) -> int:
        return int(self.species.shape[0])

    @property
    def num_atoms(self) -> Tensor:
        """``[B]`` long atoms per structure."""
        return self.mask.sum(dim=1)

    def as_dict(self) -> dict[str, Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Tensor]) -> AllAtoms:
        return cls(**{f.name: data[f.name] for f in fields(cls)})

    def take(self, index: Tensor, trim: bool = True) -> AllAtoms:
        """Structures ``index [b]``, with token slots trimmed to the longest of them if ``trim``."""
        length = max(int(self.mask[index].sum(dim=1).max()), 1) if trim else self.mask.shape[1]
        return AllAtoms(self.species[index, :length], self.pos[index, :length], self.frac[index, :length],
                        self.lattice[index], self.label[index], self.periodic[index], self.mask[index, :length])

    def cells(self) -> Tensor:
        """``[B, 3, 3]`` lattice matrices (rows a, b, c) in Angstrom from ``lattice``."""
        scale = self.num_atoms.to(self.lattice.dtype).clamp_min(1).pow(1.0 / 3.0)[:, None]
        return lattice_params_to_matrix(self.lattice[:, :3] * scale, self.lattice[:, 3:])


def centred(pos: Tensor, mask: Tensor) -> Tensor:
    """``pos [B, L, 3]`` minus each structure's mean over its real atoms (padding set to 0)."""
    weights = mask.unsqueeze(-1).to(pos.dtype)
    mean = (pos * weights).sum(dim=1, keepdim=True) / weights.sum(dim=1, keepdim=True).clamp_min(1.0)
    return (pos - mean) * weights


def principal_frame(pos: Tensor, mask: Tensor) -> Tensor:
    """``pos [B, L, 3]`` (centred) rotated into each structure's principal-axes frame: x, y, z along the
    directions of decreasing spread of its atoms, each axis signed so that the atoms' third moment along it is
    non-negative, then z flipped if needed to keep a proper rotation (det +1)."""
    weights = mask.unsqueeze(-1).to(pos.dtype)
    covariance = (pos * weights).transpose(1, 2) @ pos
    _, vectors = torch.linalg.eigh(covariance.double())
    axes = vectors.flip(-1).to(pos.dtype)
    projected = pos @ axes
    signs = torch.where((projected.pow(3) * weights).sum(dim=1) < 0, -1.0, 1.0).to(pos.dtype)
    axes = axes * signs[:, None, :]
    axes[:, :, 2] *= torch.linalg.det(axes.double()).sign().to(pos.dtype)[:, None]
    return (pos @ axes) * weights


def scaled_lattice(cell: Tensor, num_atoms: Tensor) -> Tensor:
    """``[B, 6]``: lengths / n^(1/3) (Angstrom) and angles (radians) of ``cell [B, 3, 3]``."""
    lengths, angles = matrix_to_lattice_params(cell)
    return torch.cat([lengths / num_atoms.to(lengths.dtype).pow(1.0 / 3.0)[:, None], angles], dim=1)


def pack(dataset: AtomsDataset, label: int, max_atoms: int | None = None) -> AllAtoms:
    """All structures of ``dataset`` as one padded :class:`AllAtoms` (float32), vectorised.

    Crystals (``dataset.cell`` present) get fractional coordinates and lattice; molecules zeros there.
    """
    counts = dataset.num_atoms
    length = int(counts.max()) if max_atoms is None else max_atoms
    if int(counts.max()) > length:
        raise ValueError(f"a structure has {int(counts.max())} atoms, more than max_atoms = {length}")
    num = len(dataset)
    mask = torch.arange(length)[None, :] < counts[:, None]
    atoms = segment_gather_index(dataset.ptr[:-1], counts)
    species = torch.zeros(num, length, dtype=torch.long)
    species[mask] = dataset.species[atoms]
    pos = torch.zeros(num, length, 3)
    pos[mask] = dataset.pos[atoms].float()
    frac = torch.zeros(num, length, 3)
    periodic = dataset.cell is not None
    lattice = torch.zeros(num, 6)
    if periodic:
        frac[mask] = dataset.frac[atoms].float()
        lattice = scaled_lattice(dataset.cell.double(), counts).float()
    return AllAtoms(species, centred(pos, mask), frac, lattice, torch.full((num,), label, dtype=torch.long),
                    torch.full((num,), periodic, dtype=torch.bool), mask)


def concatenate(parts: list[AllAtoms]) -> AllAtoms:
    """Stack several packed sets along the structure axis, padding to the longest."""
    length = max(part.mask.shape[1] for part in parts)

    def pad(value: Tensor) -> Tensor:
        extra = length - value.shape[1]
        return torch.cat([value, value.new_zeros(value.shape[0], extra, *value.shape[2:])], dim=1)

    return AllAtoms(torch.cat([pad(p.species) for p in parts]), torch.cat([pad(p.pos) for p in parts]),
                    torch.cat([pad(p.frac) for p in parts]), torch.cat([p.lattice for p in parts]),
                    torch.cat([p.label for p in parts]), torch.cat([p.periodic for p in parts]),
                    torch.cat([pad(p.mask) for p in parts]))


def to_records(atoms: AllAtoms, prefix: str = "sample") -> list[AtomsRecord]:
    """One float64 :class:`AtomsRecord` per structure: molecules with ``pos``, crystals with frac + cell."""
    counts = atoms.num_atoms.tolist()
    cells = atoms.cells().double()
    records = []
    for index, count in enumerate(counts):
        species = atoms.species[index, :count]
        if bool(atoms.periodic[index]):
            frac = atoms.frac[index, :count].double() % 1.0
            records.append(AtomsRecord(species=species, pos=frac @ cells[index], frac=frac, cell=cells[index],
                                       name=f"{prefix}_{index}"))
        else:
            records.append(AtomsRecord(species=species, pos=atoms.pos[index, :count].double(),
                                       name=f"{prefix}_{index}"))
    return records
