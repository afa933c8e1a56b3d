"""Image galleries (matplotlib PNG): ground truth vs renders vs baselines, one column per view."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from genforge.core.atomic import save_figure


def save_gallery(rows: dict[str, Tensor], path: str | Path, *, titles: list[str] | None = None) -> Path:
    """Write a grid with one row per entry of ``rows`` (name -> images ``[V, 3, H, W]`` in [0, 1])."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    num_rows, num_cols = len(rows), next(iter(rows.values())).shape[0]
    fig, axes = plt.subplots(num_rows, num_cols, figsize=(1.6 * num_cols, 1.7 * num_rows), squeeze=False)
    for r, (name, images) in enumerate(rows.items()):
        for c in range(num_cols):
            ax = axes[r][c]
            ax.imshow(images[c].detach().clamp(0, 1).permute(1, 2, 0).cpu().numpy())
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(name, fontsize=8)
            if r == 0 and titles is not None:
                ax.set_title(titles[c], fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    return path
