"""Single-view novel-view synthesis on held-out procedural objects: 3D-bottleneck multiview diffusion (splat)
vs the same network as a deterministic reconstructor (regression) vs pixel-space multiview diffusion.

``python -m benchmarks.splat3d_multiview`` loads the three checkpoints (default: the shipped
``domains/splat3d/checkpoints/{splat,regression,pixel}_objects32.pt``), evaluates each with the same protocol
(:mod:`genforge.domains.splat3d.mv_report`: view 0 of every held-out object as input, views 1..T as novel
views, one seeded sample, PSNR / SSIM, re-render agreement of a jointly fitted scene), adds the trivial
baselines, appends the table to benchmarks/RESULTS.md and writes a side-by-side gallery to
benchmarks/figures/splat3d_multiview_gallery.png.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.domains.splat3d.mv_generate import load_multiview
from genforge.domains.splat3d.mv_report import evaluate_model
from genforge.domains.splat3d.plots import save_gallery

CHECKPOINTS = Path(__file__).resolve().parents[1] / "domains" / "splat3d" / "checkpoints"
FIGURE = Path(__file__).resolve().parent / "figures" / "splat3d_multiview_gallery.png"
LABELS = {"splat": "multiview diffusion, 3D Gaussian bottleneck (DSplats / DFM-style)",
          "regression": "same network, deterministic reconstructor (splatter image)",
          "pixel": "pixel-space multiview diffusion (no 3D bottleneck)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for kind in LABELS:
        parser.add_argument(f"--{kind}", type=Path, default=CHECKPOINTS / f"{kind}_objects32.pt",
                            help=f"{kind} checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows, samples, baselines, reference = {}, {}, {}, None
    for kind in LABELS:
        model, cfg = load_multiview(getattr(args, kind))
        result = evaluate_model(model, cfg, seed=args.seed, reference=reference is None)
        metrics = result["metrics"]
        rows[kind] = {**metrics["model"], "guidance": cfg.guidance, "steps": cfg.sample_steps}
        baselines = {name: row for name, row in metrics.items() if name.startswith("baseline")}
        reference = metrics.get("reference: true views", reference)
        samples[kind] = result["sample"].views
        truth, context, data = result["truth"], result["context"], cfg.data
    lines = ["| method | PSNR (dB) | SSIM | re-render PSNR (dB) | sampling |", "|---|---:|---:|---:|---|"]
    for kind, row in rows.items():
        how = "1 forward pass" if kind == "regression" else f"DDIM {row['steps']}, CFG w={row['guidance']:g}"
        lines.append(f"| {LABELS[kind]} | {row['psnr']:.2f} | {row['ssim']:.3f} | {row['consistency_psnr']:.2f} | "
                     f"{how} |")
    model, cfg = load_multiview(args.splat)
    unguided = evaluate_model(model, replace(cfg, guidance=1.0), seed=args.seed, consistency=False)["metrics"]["model"]
    lines.append(f"| {LABELS['splat']}, no guidance | {unguided['psnr']:.2f} | {unguided['ssim']:.3f} | - | "
                 f"DDIM {cfg.sample_steps}, w=1 |")
    for name, row in baselines.items():
        lines.append(f"| {name} (trivial) | {row['psnr']:.2f} | {row['ssim']:.3f} | - | - |")
    lines.append(f"| reference: true views | - | - | {reference['consistency_psnr']:.2f} | - |")
    body = "\n".join(lines) + (
        f"\n\n{data.num_eval} held-out objects ({data.size}x{data.size}), view 0 as the input, {data.targets} novel "
        f"views each, one sample (seed {args.seed}); re-render PSNR on the first objects (a Gaussian scene fitted "
        f"jointly to input + predicted views, re-rendered). Gallery: benchmarks/figures/{FIGURE.name}.")
    print(body)
    count = min(6, truth.shape[0])
    gallery = {"input": context[:count]}
    for k in range(truth.shape[1]):
        gallery.update({f"{kind} {k + 1}": views[:count, k] for kind, views in samples.items()})
        gallery[f"target {k + 1}"] = truth[:count, k]
    save_gallery(gallery, FIGURE, titles=[f"object {i}" for i in range(count)])
    if not args.no_append:
        append_result("Single-view novel views on held-out objects: splat vs regression vs pixel diffusion "
                      "(benchmarks/splat3d_multiview.py)", body)


if __name__ == "__main__":
    main()
