"""The ``genforge splat fit`` job: split views, fit, evaluate vs baselines, write .ply + metrics + gallery."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from genforge.core.atomic import write_json
from genforge.core.render import save_ply
from genforge.datasets.posed_images import PosedImages
from genforge.domains.splat3d.fit import (
    FitConfig,
    evaluate,
    fit_scene,
    nearest_view_baseline,
    render_views,
    split_views,
)
from genforge.domains.splat3d.plots import save_gallery


def run_fit(views: PosedImages, cfg: FitConfig, out: Path, *, progress: bool = True) -> dict[str, Any]:
    """Fit on the training part of ``views``; writes ``out`` (.ply), ``<out>.json`` and ``<out>_gallery.png``."""
    train, held = split_views(views, cfg.holdout_every)
    result = fit_scene(train, cfg, progress=progress)
    report: dict[str, Any] = {"config": asdict(cfg), "num_train_views": len(train), "num_held_out_views": len(held),
                              "held_out_views": held.names, "fit_seconds": result.seconds,
                              "fit_cpu_seconds": result.cpu_seconds, "num_gaussians": result.gaussians.num,
                              "densification": result.history}
    out.parent.mkdir(parents=True, exist_ok=True)
    if len(held):
        report["held_out"] = evaluate(result.gaussians, train, held, cfg)
        shown = held.subset(list(range(min(5, len(held)))))
        save_gallery({"ground truth": shown.images, "3DGS fit": render_views(result.gaussians, shown.cameras, cfg),
                      "nearest train view": nearest_view_baseline(train, shown.cameras)},
                     out.with_name(f"{out.stem}_gallery.png"), titles=shown.names)
    save_ply(result.gaussians, out)
    write_json(report, out.with_suffix(".json"))
    return report
