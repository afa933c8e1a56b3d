"""Evaluation of a trained multiview model on held-out objects, its galleries, turntable GIF, .ply scenes and
the shipped checkpoint (slim weights + JSON card).

Protocol: held-out objects (never trained on), view 0 as the single input view, views ``1 .. T`` as the novel
views; one sample per object (seed 0). Trivial baselines on the same views: the input view copied to every
novel view, and the mean training image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor

from genforge.core.atomic import write_json
from genforge.core.render import save_ply
from genforge.domains.splat3d.multiview import MultiviewModel
from genforge.domains.splat3d.mv_data import evaluation_example, held_out_objects, training_objects
from genforge.domains.splat3d.mv_eval import consistency_psnr, view_scores
from genforge.domains.splat3d.mv_plots import save_turntable_gif
from genforge.domains.splat3d.mv_sample import sample_views
from genforge.domains.splat3d.plots import save_gallery
from genforge.domains.splat3d.rays import canonical_context, turntable_viewmats
from genforge.domains.splat3d.tasks import MultiviewTaskConfig, process_of

GALLERY_OBJECTS = 6




def _all_cameras(targets: Tensor, radius: float) -> Tensor:
    """Context + target cameras ``[B, 1 + T, 4, 4]`` in the context frame."""
    return torch.cat([canonical_context(targets.shape[0], radius)[:, None], targets], dim=1)


@torch.no_grad()
def evaluate_model(model: MultiviewModel, cfg: MultiviewTaskConfig, *, seed: int = 0, consistency: bool = True,
                   reference: bool = True) -> dict[str, Any]:
    """Novel-view PSNR / SSIM of the model and the trivial baselines, the re-render agreement of the model
    (``consistency``) and of the true views (``reference``); the samples."""
    example = evaluation_example(held_out_objects(cfg.data), cfg.data.targets, cfg.model.radius)
    generator = torch.Generator().manual_seed(seed)
    sample = sample_views(model, process_of(cfg), example.cond, steps=cfg.sample_steps, scale=cfg.guidance,
                          generator=generator)
    truth, context = (example.x0 + 1) / 2, (example.context + 1) / 2
    mean_image = training_objects(cfg.data).images[:256].mean(dim=(0, 1))
    metrics: dict[str, Any] = {
        "model": view_scores(sample.views, truth),
        "baseline: input view copied": view_scores(context[:, None].expand_as(truth), truth),
        "baseline: mean training image": view_scores(mean_image.expand_as(truth), truth),
    }
    if consistency:
        count = min(cfg.consistency_objects, truth.shape[0])
        cameras = _all_cameras(example.cond.targets[:count], cfg.model.radius)
        candidates = [("model", sample.views)] + ([("reference: true views", truth)] if reference else [])
        for name, views in candidates:
            stacked = torch.cat([context[:count, None], views[:count]], dim=1)
            fit_generator = torch.Generator().manual_seed(seed + 1)
            with torch.enable_grad():
                score = consistency_psnr(stacked, cameras, model.Ks, generator=fit_generator)
            metrics.setdefault(name, {})["consistency_psnr"] = score
    return {"metrics": metrics, "sample": sample, "truth": truth, "context": context}


def print_metrics(metrics: dict[str, dict[str, float]], title: str) -> None:
    """A rich table of the metric rows."""
    table = Table(title=title)
    table.add_column("method")
    for column in ("psnr", "ssim", "consistency_psnr"):
        table.add_column(column, justify="right")
    for name, row in metrics.items():
        table.add_row(name, *(f"{row[c]:.3f}" if c in row else "-" for c in ("psnr", "ssim", "consistency_psnr")))
    Console().print(table)


def save_outputs(model: MultiviewModel, result: dict[str, Any], out_dir: Path, radius: float) -> None:
    """Gallery PNG (input | samples | targets per object), .ply scenes and a turntable GIF of object 0."""
    sample, truth, context = result["sample"], result["truth"], result["context"]
    count, targets = min(GALLERY_OBJECTS, truth.shape[0]), truth.shape[1]
    rows = {f"object {i}": torch.cat([context[i, None], sample.views[i], truth[i]]) for i in range(count)}
    titles = ["input view"] + [f"sample {k + 1}" for k in range(targets)] + [f"target {k + 1}" for k in
                                                                            range(targets)]
    save_gallery(rows, out_dir / "gallery.png", titles=titles)
    if sample.splats is None:
        return
    for i in range(count):
        save_ply(sample.splats.scene(i), out_dir / "scenes" / f"object_{i}.ply")
    frames = model.render(sample.splats.select(0), turntable_viewmats(24, radius, 0.3)[None])
    save_turntable_gif(frames[0], out_dir / "turntable.gif")


def report_run(model: MultiviewModel, cfg: MultiviewTaskConfig, out_dir: Path, *, steps: int) -> dict[str, Any]:
    """Evaluate, print, write ``metrics.json`` and the outputs of :func:`save_outputs`; returns the metrics."""
    result = evaluate_model(model, cfg)
    metrics = {"kind": cfg.model.kind, "steps": steps, "held_out_objects": cfg.data.num_eval,
               "novel_views": cfg.data.targets, **result["metrics"]}
    print_metrics(result["metrics"], f"{cfg.model.kind}: held-out novel views (PSNR dB / SSIM / re-render PSNR)")
    save_outputs(model, result, out_dir, cfg.model.radius)
    write_json(metrics, out_dir / "metrics.json")
    return metrics


def export_run(out_dir: Path, export: Path, metrics: dict[str, Any]) -> None:
    """Slim checkpoint (EMA weights) at ``export`` and its JSON card (recipe, steps, metrics) beside it."""
    from genforge.core.train.checkpoint import latest
    from genforge.core.train.inference import export_inference, load_trained

    checkpoint = latest(out_dir)
    if checkpoint is None:
        return
    trained = load_trained(checkpoint)
    export_inference(trained, export, metrics)
    card = {"recipe": trained.config, "steps": trained.step, "metrics": metrics,
            "parameters": sum(v.numel() for v in trained.weights.values())}
    write_json(card, export.with_suffix(".json"))

