"""Synthetic cubic ABX3 perovskites written as a tiny CDVAE-format CSV (made here, never read from shared data)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter

A_SITES = ("Sr", "Ba", "Ca")  # A2+ B4+ O3: every composition is charge neutral
B_SITES = ("Ti", "Zr", "Sn")
X_SITES = ("O",)
POSITIONS = [[0.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]]


def perovskite(a: str, b: str, x: str, length: float) -> Structure:
    """Cubic ABX3 with A at the corner, B at the body centre and X on the face centres."""
    return Structure(Lattice.cubic(length), [a, b, x, x, x], POSITIONS)


def write_perovskite_csv(folder: Path, num: int, seed: int = 0) -> Path:
    """``folder/val.csv`` with ``num`` random perovskites (a pool file that ``load_crystals`` splits)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "val.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["", "material_id", "cif", "formula"])
        for index in range(num):
            a, b, x = rng.choice(A_SITES), rng.choice(B_SITES), rng.choice(X_SITES)
            structure = perovskite(a, b, x, float(rng.uniform(3.8, 4.3)))
            writer.writerow([index, f"syn-{index}", str(CifWriter(structure)), structure.composition.reduced_formula])
    return path
