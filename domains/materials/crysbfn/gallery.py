"""PNG gallery of structures (ASE ``plot_atoms``): crystals with their unit cell, molecules without."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from genforge.core.atomic import save_figure
from genforge.datasets.batch import AtomsRecord


def write_gallery(records: Sequence[AtomsRecord], path: str | Path, *, columns: int = 4, limit: int = 16,
                  rotation: str = "10x,20y,0z") -> Path:
    """The first ``limit`` structures in a grid of ``columns``, each titled with its formula, written
    atomically to ``path`` (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from ase import Atoms
    from ase.visualize.plot import plot_atoms

    shown = list(records)[:limit]
    rows = max(1, math.ceil(len(shown) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(3 * columns, 3 * rows), squeeze=False)
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, record in zip(axes.flat, shown, strict=False):
        periodic = record.cell is not None
        atoms = Atoms(numbers=record.species.tolist(), positions=record.pos.double().numpy(),
                      cell=record.cell.double().numpy() if periodic else None, pbc=periodic)
        plot_atoms(atoms, axis, rotation=rotation, show_unit_cell=2 if periodic else 0, radii=0.4)
        axis.set_title(atoms.get_chemical_formula(mode="metal"), fontsize=9)
    figure.tight_layout()
    return save_figure(figure, path, dpi=100)
