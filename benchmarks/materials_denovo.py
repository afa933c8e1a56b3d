"""De novo crystal generation: a CrysBFN checkpoint vs the trivial baselines, appended to benchmarks/RESULTS.md.

Generates ``--num`` crystals (atom counts from the training distribution) at each ``--steps`` count, evaluates
them against the held-out split with the reference metrics (validity, COV-R/P, W1 of density and #elements,
uniqueness, novelty vs train) next to the training structures themselves (ceiling) and training cells with
uniformly random coordinates (floor), and writes the table as JSON too.

    python -m benchmarks.materials_denovo --ckpt runs/materials/crysbfn_gen_perov_5/last.pt --num 500 --steps 100
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.atomic import write_json
from genforge.core.train.inference import load_trained
from genforge.domains.materials.crysbfn.gen_task import (
    GEN_COLUMNS,
    baseline_crystals,
    evaluate_generation,
    generate_crystals,
    load_split,
    load_trained_gen_model,
    print_gen_table,
)
from genforge.domains.materials.crysbfn.task import crystals_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--num", type=int, default=500)
    parser.add_argument("--steps", type=int, nargs="+", default=[100])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-cov", action="store_true", help="skip COV-R / COV-P (CrystalNN fingerprints)")
    parser.add_argument("--no-novelty", action="store_true", help="skip novelty (one matcher call per training "
                                                                  "crystal of the same formula: all of carbon_24)")
    parser.add_argument("--out", type=Path, default=None, help="JSON (default: runs/materials/denovo_<data>.json)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, cfg = load_trained_gen_model(load_trained(args.ckpt))
    train, held_out = load_split(cfg, "train"), load_split(cfg, "val")
    novelty_train = None if args.no_novelty else train
    rows: dict[str, dict[str, float]] = {}
    for steps in args.steps:
        begin = time.perf_counter()
        species, frac, cell, num_atoms = generate_crystals(model, cfg, args.num, steps, args.seed, progress=True)
        rate = args.num / (time.perf_counter() - begin)
        samples = crystals_of(species, frac, cell, num_atoms)
        rows[f"CrysBFN ({steps} steps)"] = {**evaluate_generation(samples, held_out, novelty_train, cfg.dataset,
                                                                  not args.no_cov), "structures_per_s": rate}
    for label, random_coordinates in (("training structures (ceiling)", False),
                                      ("training cells, random coordinates", True)):
        crystals = baseline_crystals(train, args.num, args.seed + 1, random_coordinates=random_coordinates)
        rows[label] = evaluate_generation(crystals, held_out, novelty_train, cfg.dataset, not args.no_cov)
    print_gen_table(rows, f"De novo generation on {cfg.dataset}")
    write_json({"dataset": cfg.dataset, "num": args.num, "rows": rows},
               args.out or Path(f"runs/materials/denovo_{cfg.dataset}.json"))
    columns = [*GEN_COLUMNS, "structures_per_s"]
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        cells = [f"{row[c]:.3f}" if c in row else "-" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    note = (f"{cfg.dataset}: {args.num} samples per row vs the held-out 10% of the upstream val.csv "
            f"({len(held_out)}); novelty vs the training 90%; checkpoint {args.ckpt}.")
    append_result(f"Materials de novo generation ({cfg.dataset})", note + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
