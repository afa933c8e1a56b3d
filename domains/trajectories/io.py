"""Trajectories as extended XYZ (one frame per block, readable by ``ase.io.read(path, index=":")``).

Particles without an element (N-body) are written as ``X`` (Z = 0) with their charge in the per-atom
``initial_charges`` column. Reading validates what the models need: at least one frame, the same number of
particles and the same elements in every frame (no ragged trajectories), finite coordinates.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genforge.core.errors import DataError


@dataclass(frozen=True)
class Trajectory:
    """One trajectory: ``pos [T, N, 3]`` (Angstrom or simulation units), ``species [N]`` (Z, 0 = generic
    particle), ``charges [N]``."""

    pos: Tensor
    species: Tensor
    charges: Tensor


def write_extxyz(path: str | Path, trajectories: Tensor, species: Tensor, charges: Tensor | None = None,
                 *, info: dict[str, float | int | str] | None = None) -> None:
    """Write ``trajectories [T, N, 3]`` or ``[K, T, N, 3]`` (frames of sample k tagged ``sample=k``).

    The file is written to a temporary name and renamed, so it never exists half-written.
    """
    from ase import Atoms
    from ase.io import write

    traj = trajectories if trajectories.dim() == 4 else trajectories[None]
    numbers = species.cpu().numpy()
    frames = []
    for k, sample in enumerate(traj.detach().cpu().double().numpy()):
        for index, positions in enumerate(sample):
            atoms = Atoms(numbers=numbers, positions=positions)
            if charges is not None:
                atoms.set_initial_charges(charges.cpu().double().numpy())
            atoms.info.update({**(info or {}), "sample": k, "frame": index})
            frames.append(atoms)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp, frames, format="extxyz")
    os.replace(tmp, path)


def read_extxyz(path: str | Path) -> Trajectory:
    """Read one trajectory; :class:`DataError` (file, frame) on ragged, non-finite or inconsistent frames."""
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise DataError("trajectory file not found", source=path)
    try:
        frames = read(path, index=":", format="extxyz")
    except Exception as err:  # ase raises many exception types on malformed files
        raise DataError(f"cannot parse as extended XYZ: {err}", source=path) from err
    if not frames:
        raise DataError("no frames", source=path)
    first = frames[0]
    for index, atoms in enumerate(frames):
        if len(atoms) != len(first):
            raise DataError(f"ragged trajectory: {len(atoms)} particles, frame 0 has {len(first)}", source=path,
                            field=f"frame {index}")
        if not np.array_equal(atoms.numbers, first.numbers):
            raise DataError("elements differ from frame 0", source=path, field=f"frame {index}")
        if not np.isfinite(atoms.positions).all():
            raise DataError("NaN or infinite coordinates", source=path, field=f"frame {index}")
    pos = torch.tensor(np.stack([atoms.positions for atoms in frames]), dtype=torch.float32)
    return Trajectory(pos, torch.tensor(first.numbers, dtype=torch.long),
                      torch.tensor(first.get_initial_charges(), dtype=torch.float32))
