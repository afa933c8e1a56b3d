"""Long DiffusionMBIR (predictor-corrector + ADMM TV-z after every step) vs its fast DDS-style variant.

The long schedule is too slow for a 64^3 volume on this CPU, so both run on the central 16-slice slab
(slices 24-39) of a 64^3 benchmark volume (``--volume``: the real CT, the held-out body phantom or the held-out
Shepp-Logan phantom), 8-view CT; NFE counts slice-batch network calls.

    python -m benchmarks.medical_mbir_long --volume ct --pc-steps 250
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import torch

from benchmarks.medical_recon import load_volume
from benchmarks.results import append_result
from genforge.domains.medical.metrics import data_residual, volume_scores
from genforge.domains.medical.pipeline import make_operator
from genforge.domains.medical.prior import DEFAULT_CHECKPOINT, load_prior
from genforge.domains.medical.reconstruct import MethodOptions, reconstruct


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pc-steps", type=int, default=100)
    parser.add_argument("--fast-steps", type=int, default=25)
    parser.add_argument("--volume", choices=("ct", "body", "phantom"), default="ct")
    args = parser.parse_args()
    torch.set_num_threads(1)
    truth = load_volume(args.volume)[24:40]
    operator = make_operator("ct", 64, views=8)
    y = operator.A(truth)
    prior = load_prior()
    options = replace(MethodOptions(), mbir_steps=args.pc_steps, fast_steps=args.fast_steps)
    lines = ["| method | steps | NFE | PSNR | PSNR ax / cor / sag | SSIM | residual | time (s) |",
             "|---|---|---|---|---|---|---|---|"]
    for method, steps in (("fbp", 0), ("admm-tv", 30), ("mbir-fast", args.fast_steps), ("mbir", args.pc_steps)):
        result = reconstruct(y, operator, prior, method, options=options)
        s = volume_scores(result.volume, truth)
        lines.append(f"| {method} | {steps} | {result.nfe} | {s['psnr']:.2f} | {s['psnr_axial']:.2f} / "
                     f"{s['psnr_coronal']:.2f} / {s['psnr_sagittal']:.2f} | {s['ssim']:.3f} | "
                     f"{data_residual(operator, result.volume, y):.3f} | {result.seconds:.0f} |")
        print(lines[-1], flush=True)
    title = f"Medical: long DiffusionMBIR vs fast variant ({args.volume} volume, 16-slice slab, 8-view CT)"
    append_result(title, f"Prior: `{DEFAULT_CHECKPOINT.name}`.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
