"""Scatter-plot galleries for 2-D samples."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from torch import Tensor

from genforge.core.atomic import save_figure


def save_scatter_gallery(panels: dict[str, Tensor], path: Path, limit: float = 3.0) -> None:
    """One scatter panel per entry (title -> points ``[n, 2]``), written atomically as a PNG."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.4), squeeze=False)
    for ax, (title, points) in zip(axes[0], panels.items(), strict=True):
        ax.scatter(points[:, 0].numpy(), points[:, 1].numpy(), s=1.5, alpha=0.5, linewidths=0)
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", xticks=[], yticks=[])
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
