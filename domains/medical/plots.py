"""PNG figures: image grids and orthogonal slices of volumes (matplotlib, written atomically)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from torch import Tensor

from genforge.core.atomic import save_figure


def _save(fig: plt.Figure, path: Path) -> None:
    save_figure(fig, path, dpi=100)


def save_image_grid(images: Tensor, path: Path, title: str = "", columns: int = 8) -> None:
    """Images ``[N, H, W]`` in [0, 1] in a grid."""
    rows = (images.shape[0] + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(1.5 * columns, 1.5 * rows + 0.4), squeeze=False)
    for index, ax in enumerate(axes.flat):
        ax.axis("off")
        if index < images.shape[0]:
            ax.imshow(images[index].detach().cpu().numpy(), cmap="gray", vmin=0.0, vmax=1.0)
    fig.suptitle(title)
    _save(fig, path)


def save_orthogonal_slices(volumes: dict[str, Tensor], path: Path, vmax: float = 1.0) -> None:
    """Axial / coronal / sagittal centre slices (rows) of each named volume ``[D, H, W]`` (columns)."""
    names = list(volumes)
    fig, axes = plt.subplots(3, len(names), figsize=(2.0 * len(names), 6.3), squeeze=False)
    for column, name in enumerate(names):
        volume = volumes[name].detach().cpu().float()
        depth, height, width = volume.shape
        views = (volume[depth // 2], volume[:, height // 2], volume[:, :, width // 2])
        for row, (label, view) in enumerate(zip(("axial", "coronal", "sagittal"), views, strict=True)):
            ax = axes[row, column]
            ax.imshow(view.numpy(), cmap="gray", vmin=0.0, vmax=vmax)
            ax.set_xticks([])
            ax.set_yticks([])
            if column == 0:
                ax.set_ylabel(label)
        axes[0, column].set_title(name, fontsize=8)
    fig.tight_layout()
    _save(fig, path)
