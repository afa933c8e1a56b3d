"""Tune reconstruction knobs on validation data only: central slabs of held-out procedural volumes (phantom
seed 1, never the benchmark's seed 2 nor the real CT). Every combination of the ``--grid`` values is run and
printed, and appended to ``<out>/tune.jsonl``.

    python -m benchmarks.medical_tune --volume body --case ct8 --method mbir-fast --grid tvz_lam=0.0005,0.001,0.002
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.medical_recon import CASES, SIZE
from genforge.datasets.phantoms import phantom
from genforge.domains.medical.body_phantoms import body_phantom
from genforge.domains.medical.metrics import data_residual, volume_scores
from genforge.domains.medical.pipeline import make_operator
from genforge.domains.medical.prior import DEFAULT_CHECKPOINT, load_prior
from genforge.domains.medical.reconstruct import PRIOR_METHODS, MethodOptions, reconstruct

VALIDATION_SEED = 1


def validation_volume(name: str, slab: int) -> torch.Tensor:
    """The central ``slab`` axial slices of a validation volume: ``body`` (CT-like), ``phantom`` (Shepp-Logan)
    or ``ellipsoids``, all at phantom seed 1."""
    seed = VALIDATION_SEED * 100_003
    volume = {"body": lambda: body_phantom((SIZE,) * 3, seed),
              "phantom": lambda: phantom("shepp_logan", (SIZE,) * 3, seed),
              "ellipsoids": lambda: phantom("ellipsoids", (SIZE,) * 3, seed + 1)}[name]()
    start = (SIZE - slab) // 2
    return volume[start:start + slab]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volume", default="body")
    parser.add_argument("--slab", type=int, default=16)
    parser.add_argument("--case", default="ct8")
    parser.add_argument("--method", default="mbir-fast")
    parser.add_argument("--ckpt", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--set", action="append", default=[], help="fixed MethodOptions field=value")
    parser.add_argument("--grid", action="append", default=[], help="field=v1,v2,... (cartesian product)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("outputs/medical_tune"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    base = MethodOptions()
    for assignment in args.set:
        name, value = assignment.split("=", 1)
        base = replace(base, **{name: type(getattr(base, name))(value)})
    names = [g.split("=", 1)[0] for g in args.grid]
    values = [g.split("=", 1)[1].split(",") for g in args.grid]
    truth = validation_volume(args.volume, args.slab)
    operator = make_operator(size=SIZE, **CASES[args.case])
    y = operator.A(truth)
    prior = load_prior(args.ckpt) if args.method in PRIOR_METHODS else None
    for combo in itertools.product(*values):
        options = replace(base, **{n: type(getattr(base, n))(v) for n, v in zip(names, combo, strict=True)})
        result = reconstruct(y, operator, prior, args.method, options=options, seed=args.seed)
        scores = volume_scores(result.volume, truth)
        row = {"volume": args.volume, "case": args.case, "method": args.method, "ckpt": str(args.ckpt),
               "set": args.set, **dict(zip(names, combo, strict=True)), "psnr": scores["psnr"],
               "ssim": scores["ssim"], "residual": data_residual(operator, result.volume, y),
               "seconds": result.seconds}
        with open(args.out / "tune.jsonl", "a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(" ".join(f"{n}={v}" for n, v in zip(names, combo, strict=True)),
              f"psnr {row['psnr']:.2f} ssim {row['ssim']:.3f} res {row['residual']:.3f} {row['seconds']:.0f} s",
              flush=True)


if __name__ == "__main__":
    main()
