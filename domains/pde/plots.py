"""Figures: space-time heat maps of u and f per method, and a bar chart of the control cost J."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from torch import Tensor

from genforge.core.atomic import save_figure


def _pyplot():  # type: ignore[no-untyped-def]
    """matplotlib.pyplot on the file-only Agg backend (imported here to keep the CLI import light)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(fig, path: str | Path, title: str = "", title_size: int = 10) -> Path:  # type: ignore[no-untyped-def]
    """Add the figure title, lay out and save ``fig`` atomically to ``path`` (110 dpi)."""
    if title:
        fig.suptitle(title, fontsize=title_size)
    fig.tight_layout()
    path = Path(path)
    save_figure(fig, path, dpi=110)
    return path


def heatmaps(panels: Mapping[str, tuple[Tensor, Tensor]], path: str | Path, title: str = "") -> Path:
    """One row per method with its u ``[81, 120]`` and f ``[80, 120]`` as (x, t) images; shared colour scales."""
    plt = _pyplot()
    rows = len(panels)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 2.2 * rows + 0.6), squeeze=False)
    u_max = max(float(np.abs(u.numpy()).max()) for u, _ in panels.values()) or 1.0
    f_max = max(float(np.abs(f.numpy()).max()) for _, f in panels.values()) or 1.0
    for row, (name, (u, f)) in enumerate(panels.items()):
        for col, (field, vmax, label) in enumerate(((u, u_max, "u"), (f, f_max, "f"))):
            image = axes[row][col].imshow(field.numpy(), aspect="auto", origin="lower", cmap="RdBu_r",
                                          vmin=-vmax, vmax=vmax, extent=(0.0, 1.0, 0.0, 8.0))
            axes[row][col].set_title(f"{name}: {label}", fontsize=9)
            axes[row][col].set_xlabel("x")
            axes[row][col].set_ylabel("t")
            fig.colorbar(image, ax=axes[row][col])
    return _finish(fig, path, title, 10)


def j_bars(values: Mapping[str, tuple[float, float]], path: str | Path, title: str = "") -> Path:
    """Bar chart of mean J with its standard error per method (``{name: (mean, sem)}``); log scale."""
    plt = _pyplot()
    names = list(values)
    means = [values[n][0] for n in names]
    errors = [values[n][1] for n in names]
    fig, ax = plt.subplots(figsize=(1.6 * len(names) + 2, 3.6))
    ax.bar(range(len(names)), means, yerr=errors, capsize=4, color="tab:blue")
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("J (re-simulated, fine solver)")
    if title:
        ax.set_title(title, fontsize=10)
    return _finish(fig, path)


def field_panels(panels: Mapping[str, Tensor], path: str | Path, title: str = "", t_end: float = 8.0,
                 columns: int = 4) -> Path:
    """(x, t) heat maps of named fields ``[K, N]`` (any grids), ``columns`` per row; fields named ``a - b``
    (differences) share their own colour scale, the others one common scale."""
    plt = _pyplot()
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.0 * columns, 3.2 * rows + 0.4), squeeze=False)
    scales = {}
    for kind in (True, False):
        values = [float(np.abs(f.numpy()).max()) for n, f in panels.items() if (" - " in n) == kind]
        scales[kind] = max(values, default=1.0) or 1.0
    for ax, (name, field) in zip(axes.flat, panels.items(), strict=False):
        vmax = scales[" - " in name]
        image = ax.imshow(field.numpy(), aspect="auto", origin="lower", cmap="RdBu_r", vmin=-vmax, vmax=vmax,
                          extent=(0.0, 1.0, 0.0, t_end), interpolation="nearest")
        ax.set_title(f"{name} ({field.shape[0]} x {field.shape[1]})", fontsize=8)
        ax.set_xlabel("x", fontsize=8)
        ax.set_ylabel("t", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    return _finish(fig, path, title, 10)


def density_frames(rows: Mapping[str, Tensor], frames: list[int], path: str | Path, title: str = "") -> Path:
    """Smoke density snapshots: one row per method (density ``[T+1, n, n]``, row 0 = bottom), one column per frame."""
    plt = _pyplot()
    fig, axes = plt.subplots(len(rows), len(frames), figsize=(2.0 * len(frames), 2.1 * len(rows) + 0.5),
                             squeeze=False)
    vmax = max(float(d.max()) for d in rows.values()) or 1.0
    for r, (name, density) in enumerate(rows.items()):
        for c, frame in enumerate(frames):
            axes[r][c].imshow(density[frame].numpy(), origin="lower", cmap="magma", vmin=0.0, vmax=vmax)
            axes[r][c].set_xticks([])
            axes[r][c].set_yticks([])
            axes[r][c].set_title(f"{name}, frame {frame}", fontsize=7)
    return _finish(fig, path, title, 9)
