"""Image galleries (matplotlib PNG): ground truth vs renders vs baselines, one column per view."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torch import Tensor


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
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".png")
    os.close(handle)
    try:
        fig.savefig(temp, dpi=110)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        plt.close(fig)
        if os.path.exists(temp):
            os.remove(temp)
    return path
