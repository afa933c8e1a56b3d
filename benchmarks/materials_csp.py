"""CSP step table: CrysBFN vs the same-size DiffCSP-style diffusion vs template substitution.

Loads the two trained CPU-recipe checkpoints, predicts one structure per held-out composition at each
sampling step count and appends the table (match rate, RMSE, NFE, structures/s on this CPU) to
benchmarks/RESULTS.md; also writes it as JSON.

    python -m benchmarks.materials_csp --crysbfn runs/materials/crysbfn_perov_5/last.pt \\
        --diffcsp runs/materials/diffcsp_perov_5/last.pt --steps 10 20 50 100 1000 --subset 1000=100

Either checkpoint may be omitted (the table then has the other model's rows and the template's).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.atomic import write_json
from genforge.core.train.inference import load_trained
from genforge.domains.materials.crysbfn.task import (
    crystals_of,
    evaluate_csp,
    evaluate_template,
    held_out_split,
    load_split,
    load_trained_model,
    print_csp_table,
)
from genforge.domains.materials.crysbfn.template_start import predict_from_templates
from genforge.domains.materials.metrics import csp_metrics


def _subsets(pairs: list[str]) -> dict[int, int]:
    return {int(steps): int(count) for steps, count in (pair.split("=") for pair in pairs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--crysbfn", type=Path, default=None, help="the CrysBFN checkpoint (omit: DiffCSP only)")
    parser.add_argument("--diffcsp", type=Path, default=None, help="the DiffCSP-style checkpoint (omit: CrysBFN only)")
    parser.add_argument("--steps", type=int, nargs="+", default=[10, 20, 50, 100, 1000])
    parser.add_argument("--subset", nargs="*", default=[], help="STEPS=N: evaluate that step count on the "
                                                                "first N held-out structures only")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--template-start", type=float, nargs="*", default=[],
                        help="t0 values: also CrysBFN started from the template guess at t0 (at the largest --steps "
                             "grid density below 1000, i.e. round(t0 * steps) steps)")
    parser.add_argument("--out", type=Path, default=Path("runs/materials/csp_step_table.json"))
    args = parser.parse_args()
    if args.crysbfn is None and args.diffcsp is None:
        parser.error("give --crysbfn and/or --diffcsp")
    torch.set_num_threads(1)
    subsets = _subsets(args.subset)
    models = {name: load_trained_model(load_trained(path)) for name, path in
              (("crysbfn", args.crysbfn), ("diffcsp", args.diffcsp)) if path is not None}
    cfg = next(iter(models.values()))[2]
    held_out = held_out_split(cfg)
    rows: dict[str, dict[str, float]] = {}
    lines = ["| method | steps | NFE | held-out | match rate | RMSE | structures/s (CPU, 1 thread) |",
             "|---|---|---|---|---|---|---|"]
    template = evaluate_template(load_split(cfg, "train"), held_out)
    rows["template substitution"] = template
    lines.append(f"| template substitution | - | - | {len(held_out)} | {100 * template['match_rate']:.1f}% | "
                 f"{template['rmse']:.4f} | - |")
    for steps in args.steps:
        for name, (model, kind, model_cfg) in models.items():
            part = held_out
            if steps in subsets and subsets[steps] < len(held_out):
                part = held_out.subset(torch.arange(subsets[steps]))
            row = evaluate_csp(model, kind, model_cfg, part, steps, args.seed)
            rows[f"{name} ({steps} steps)"] = {**row, "held_out": float(len(part))}
            lines.append(f"| {name} | {steps} | {int(row['nfe'])} | {len(part)} | {100 * row['match_rate']:.1f}% | "
                         f"{row['rmse']:.4f} | {row['structures_per_s']:.1f} |")
    if args.template_start and "crysbfn" in models:
        model, _, model_cfg = models["crysbfn"]
        steps = max(s for s in args.steps if s < 1000)
        train = load_split(cfg, "train")
        references = crystals_of(held_out.species, held_out.frac, held_out.cell, held_out.num_atoms)
        for t0 in args.template_start:
            frac, cell = predict_from_templates(model, model_cfg, train, held_out, t0, steps, args.seed)
            row = csp_metrics(crystals_of(held_out.species, frac, cell, held_out.num_atoms), references)
            rows[f"crysbfn from template, t0 = {t0}"] = row
            lines.append(f"| crysbfn from the template at t0 = {t0} | {round(steps * t0)} | {round(steps * t0) + 1} | "
                         f"{len(held_out)} | {100 * row['match_rate']:.1f}% | {row['rmse']:.4f} | - |")
    print_csp_table(rows, f"CSP on {cfg.dataset} held-out")
    write_json({"dataset": cfg.dataset, "rows": rows}, args.out)
    note = (f"{cfg.dataset}: train = 90% of the upstream val.csv, held-out = the other 10% ({len(held_out)}); "
            f"one sample per composition; StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10). Checkpoints: "
            f"{', '.join(str(p) for p in (args.crysbfn, args.diffcsp) if p is not None)}.")
    append_result(f"Materials CSP step table ({cfg.dataset})", note + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
