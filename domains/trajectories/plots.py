"""Frame-strip pictures of forecasts: observed frames, K forecasts and (optionally) the truth, projected
on the x-y plane, one panel per particle set."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from genforge.core.atomic import save_figure


def save_forecast_strip(past: Tensor, samples: Tensor, path: str | Path, truth: Tensor | None = None) -> None:
    """PNG of ``past [Tc, N, 3]``, ``samples [K, Tf, N, 3]`` and ``truth [Tf, N, 3]`` (x-y projection)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    colours = plt.cm.tab10.colors
    for n in range(past.shape[1]):
        colour = colours[n % len(colours)]
        ax.plot(past[:, n, 0], past[:, n, 1], "-o", color=colour, markersize=2, linewidth=1.5)
        for k in range(samples.shape[0]):
            ax.plot(samples[k, :, n, 0], samples[k, :, n, 1], "--", color=colour, linewidth=0.8, alpha=0.6)
        if truth is not None:
            ax.plot(truth[:, n, 0], truth[:, n, 1], ":", color="k", linewidth=1.0)
    ax.set_title("observed (solid), forecasts (dashed)" + (", truth (dotted)" if truth is not None else ""))
    ax.set_aspect("equal")
    save_figure(fig, path, dpi=120, bbox_inches="tight")
