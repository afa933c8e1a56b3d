"""CrysBFN sampler levers on the held-out split: sampling steps x sender-noise scale, CSP and/or de novo.

For a CSP checkpoint (``materials.crysbfn``) each row is the match rate / RMSE / validity of one sample per
held-out composition; for a de novo checkpoint (``materials.crysbfn_gen``) the structural / compositional
validity of ``--num`` generated crystals. The noise scale multiplies the sender noise of coordinates and
lattice (1 = the Bayesian flow sampler, 0 = every update at the network's estimate). Appends the table to
benchmarks/RESULTS.md.

    python -m benchmarks.materials_csp_levers --ckpt runs/materials/crysbfn_csp_8k_perov_5/last.pt \\
        --steps 20 100 --noise-scales 1 0.5 0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.config import task_from_dict
from genforge.core.train.inference import load_trained
from genforge.domains.materials.crysbfn.gen_task import generate_crystals, load_trained_gen_model
from genforge.domains.materials.crysbfn.task import crystals_of, evaluate_csp, held_out_split, load_trained_model


def _csp_rows(trained, steps: list[int], scales: list[float], seed: int) -> tuple[list[str], int]:
    model, kind, cfg = load_trained_model(trained)
    held_out = held_out_split(cfg)
    lines = ["| steps | noise scale | match rate | RMSE | struct. valid | structures/s |", "|---|---|---|---|---|---|"]
    for count in steps:
        for scale in scales:
            row = evaluate_csp(model, kind, cfg, held_out, count, seed, noise_scale=scale)
            lines.append(f"| {count} | {scale:g} | {100 * row['match_rate']:.1f}% | {row['rmse']:.4f} | "
                         f"{100 * row['valid']:.1f}% | {row['structures_per_s']:.1f} |")
            print(lines[-1], flush=True)
    return lines, len(held_out)


def _gen_rows(trained, steps: list[int], scales: list[float], seed: int, num: int) -> list[str]:
    model, cfg = load_trained_gen_model(trained)
    lines = ["| steps | noise scale | struct. valid | comp. valid | structures/s |", "|---|---|---|---|---|"]
    for count in steps:
        for scale in scales:
            begin = time.perf_counter()
            species, frac, cell, num_atoms = generate_crystals(model, cfg, num, count, seed, noise_scale=scale)
            rate = num / (time.perf_counter() - begin)
            crystals = crystals_of(species, frac, cell, num_atoms)
            struct = sum(c.struct_valid for c in crystals) / num
            comp = sum(c.comp_valid for c in crystals) / num
            lines.append(f"| {count} | {scale:g} | {100 * struct:.1f}% | {100 * comp:.1f}% | {rate:.1f} |")
            print(lines[-1], flush=True)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--noise-scales", type=float, nargs="+", default=[1.0, 0.5, 0.0])
    parser.add_argument("--num", type=int, default=500, help="de novo: crystals per row")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = load_trained(args.ckpt)
    name, cfg, _ = task_from_dict(trained.config, str(trained.source))
    if name == "materials.crysbfn_gen":
        lines = _gen_rows(trained, args.steps, args.noise_scales, args.seed, args.num)
        what = f"de novo, {args.num} samples"
    else:
        lines, held = _csp_rows(trained, args.steps, args.noise_scales, args.seed)
        what = f"CSP, one sample per held-out composition ({held})"
    append_result(f"Materials CrysBFN sampler levers ({cfg.dataset}, {what})",
                  f"Checkpoint {args.ckpt}; held-out = 10% of the upstream val.csv.\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
