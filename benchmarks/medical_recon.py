"""Medical reconstruction benchmark: every method on held-out procedural 64^3 volumes and the real CT volume.

Cases: 8- and 4-view sparse-view CT, 90-degree limited-angle CT (1-degree steps), x4 / x8 CS-MRI (uniform 1-D
masks). Rows (PSNR / SSIM over the volume and per axis, data residual ||Ax - y|| / ||y||, NFE, wall time) are
appended to ``<out>/rows.jsonl`` as they finish, so an interrupted run resumes where it stopped;
``--report`` renders the table (``<out>/table.md``, appended to benchmarks/RESULTS.md) and the orthogonal-slice
PNGs from the saved volumes.

    python -m benchmarks.medical_recon --volumes phantom,ct --cases ct8 --methods fbp,admm-tv,mbir-fast
    python -m benchmarks.medical_recon --cases ct8 --methods mbir-fast --tag +tv-xy --set tvxy_lam=0.0001
    python -m benchmarks.medical_recon --report
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

import torch

from genforge.datasets.phantoms import phantom
from genforge.datasets.storage import data_root
from genforge.datasets.volumes import ct_to_unit, read_volume, to_cube
from genforge.domains.medical.body_phantoms import body_phantom
from genforge.domains.medical.metrics import data_residual, volume_scores
from genforge.domains.medical.operators import LinearOperator
from genforge.domains.medical.pipeline import make_operator
from genforge.domains.medical.plots import save_orthogonal_slices
from genforge.domains.medical.prior import DEFAULT_CHECKPOINT, SlicePrior, load_prior
from genforge.domains.medical.reconstruct import PRIOR_METHODS, MethodOptions, reconstruct

SIZE = 64
BENCHMARK_SEED = 2
"""Held-out phantoms use phantom seed 2 (training 0, validation 1)."""
CASES: dict[str, dict] = {
    "ct8": {"modality": "ct", "views": 8},
    "ct4": {"modality": "ct", "views": 4},
    "la90": {"modality": "ct", "wedge": 90.0},
    "mri4": {"modality": "mri", "acceleration": 4},
    "mri8": {"modality": "mri", "acceleration": 8},
}
METHOD_ORDER = ("fbp", "admm-tv", "slice2d", "mbir-fast", "mbir", "dps", "reddiff", "smc")


def load_volume(name: str) -> torch.Tensor:
    """``phantom`` (a held-out randomised Shepp-Logan head), ``ellipsoids`` (held-out textured volume), ``body``
    (held-out CT-like body phantom) or ``ct`` (the real CT, HU window [-1000, 1000] -> [0, 1], in-plane centre crop
    to 101 x 101, trilinear to 64^3)."""
    if name == "phantom":
        return phantom("shepp_logan", (SIZE,) * 3, BENCHMARK_SEED * 100_003)
    if name == "body":
        return body_phantom((SIZE,) * 3, BENCHMARK_SEED * 100_003)
    if name == "ellipsoids":
        return phantom("ellipsoids", (SIZE,) * 3, BENCHMARK_SEED * 100_003 + 1)
    volume = read_volume(data_root() / "ct_examples" / "example_ct.nii.gz")
    return to_cube(ct_to_unit(volume.data), SIZE)


def _label(row: dict) -> str:
    """The method's name in the table: the method plus the run's ``--tag`` (e.g. ``mbir-fast+tv-xy``)."""
    return row["method"] + row.get("tag", "")


def _done(rows_path: Path) -> set[tuple[str, str, str]]:
    if not rows_path.exists():
        return set()
    return {(r["volume"], r["case"], _label(r)) for r in map(json.loads, rows_path.read_text().splitlines())}


def run_case(volume_name: str, truth: torch.Tensor, case: str, operator: LinearOperator, methods: list[str],
             options: MethodOptions, prior: SlicePrior | None, out: Path, tag: str = "") -> None:
    """Reconstruct ``truth``'s measurement with every method not yet in rows.jsonl; save volumes and rows."""
    y = operator.A(truth)
    done = _done(out / "rows.jsonl")
    for method in methods:
        if (volume_name, case, method + tag) in done:
            continue
        result = reconstruct(y, operator, prior if method in PRIOR_METHODS else None, method, options=options,
                             seed=0)
        row = {"volume": volume_name, "case": case, "method": method, "tag": tag,
               **volume_scores(result.volume, truth),
               "residual": data_residual(operator, result.volume, y), "nfe": result.nfe,
               "seconds": result.seconds, **result.extras}
        torch.save({"volume": result.volume, "std": result.std}, out / f"{volume_name}_{case}_{method}{tag}.pt")
        with open(out / "rows.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"{volume_name:10s} {case:5s} {method + tag:15s} psnr {row['psnr']:6.2f}  ssim {row['ssim']:.3f}  "
              f"res {row['residual']:.3f}  {row['seconds']:.0f} s", flush=True)


def render(out: Path) -> str:
    """Markdown table of rows.jsonl (best PSNR per volume/case in bold) and the orthogonal-slice PNGs."""
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    truths = {name: load_volume(name) for name in {r["volume"] for r in rows}}
    for r in rows:  # scores recomputed from the saved volumes, so a metric fix needs no re-run
        saved = torch.load(out / f"{r['volume']}_{r['case']}_{_label(r)}.pt", weights_only=True)["volume"]
        r.update(volume_scores(saved, truths[r["volume"]]))
    lines = ["| volume | case | method | PSNR | PSNR ax / cor / sag | SSIM | SSIM ax / cor / sag | residual | NFE | "
             "time (s) |", "|---|---|---|---|---|---|---|---|---|---|"]
    keys = sorted({(r["volume"], r["case"]) for r in rows}, key=lambda k: (k[0], list(CASES).index(k[1])))
    for volume, case in keys:
        group = sorted((r for r in rows if (r["volume"], r["case"]) == (volume, case)),
                       key=lambda r: (METHOD_ORDER.index(r["method"]), r.get("tag", "")))
        best = max(r["psnr"] for r in group)
        for r in group:
            psnr_text = f"**{r['psnr']:.2f}**" if r["psnr"] == best else f"{r['psnr']:.2f}"
            lines.append(f"| {volume} | {case} | {_label(r)} | {psnr_text} | {r['psnr_axial']:.2f} / "
                         f"{r['psnr_coronal']:.2f} / {r['psnr_sagittal']:.2f} | {r['ssim']:.3f} | "
                         f"{r['ssim_axial']:.3f} / {r['ssim_coronal']:.3f} / {r['ssim_sagittal']:.3f} | "
                         f"{r['residual']:.3f} | {r['nfe']} | {r['seconds']:.0f} |")
        panels = {"truth": truths[volume]}
        for r in group:
            panels[_label(r)] = torch.load(out / f"{volume}_{case}_{_label(r)}.pt", weights_only=True)["volume"]
        save_orthogonal_slices(panels, out / f"slices_{volume}_{case}.png")
    table = "\n".join(lines)
    tmp = out / ".table.md.tmp"
    tmp.write_text(table + "\n")
    os.replace(tmp, out / "table.md")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volumes", default="phantom,ct")
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--methods", default="fbp,admm-tv,slice2d,mbir-fast,dps,reddiff,smc")
    parser.add_argument("--ckpt", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--out", type=Path, default=Path("outputs/medical_bench"))
    parser.add_argument("--set", action="append", default=[], help="MethodOptions field=value, e.g. fast_steps=25")
    parser.add_argument("--tag", default="", help="suffix of the method names of this run's rows, e.g. +tv-xy")
    parser.add_argument("--report", action="store_true", help="Render the table and PNGs; append to RESULTS.md.")
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.report:
        from benchmarks.results import append_result

        table = render(args.out)
        append_result(f"Medical 3-D reconstruction (64^3, slice prior {args.ckpt.name})", table)
        print(table)
        return
    options = MethodOptions()
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        options = replace(options, **{name: type(getattr(options, name))(value)})
    methods = args.methods.split(",")
    prior = load_prior(args.ckpt) if set(methods) & set(PRIOR_METHODS) else None
    for volume_name in args.volumes.split(","):
        truth = load_volume(volume_name)
        for case in args.cases.split(","):
            operator = make_operator(size=SIZE, **CASES[case])
            run_case(volume_name, truth, case, operator, methods, options, prior, args.out, args.tag)


if __name__ == "__main__":
    main()
