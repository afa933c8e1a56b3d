"""ADiT on QM9 + perov_5: molecule metrics (EDM protocol) and crystal validity vs trivial baselines.

Loads a ``materials.adit`` checkpoint (the CPU recipe's run by default), generates molecules (QM9 label)
and crystals (perov_5 label) at each requested CFG scale, evaluates them next to the baselines of
``genforge.domains.materials.adit.baselines`` and the held-out data, and appends the tables (with CPU
throughput) to benchmarks/RESULTS.md; the full report is also written as JSON.

    python -m benchmarks.materials_adit --ckpt runs/materials/adit/last.pt --molecules 500 --crystals 200 \\
        --export domains/materials/checkpoints/adit_qm9_perov5.pt

``--export`` first writes the slim checkpoint with float16 weights (to stay under 5 MB), evaluates that file
(so the metrics are those of what ships) and stores them in it and in the ``.json`` beside it.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.atomic import write_json
from genforge.core.train.inference import load_trained
from genforge.domains.materials.adit.data import load_split
from genforge.domains.materials.adit.flow_task import (
    evaluate,
    export_half,
    load_adit,
    print_report,
    report_markdown,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ckpt", type=Path, default=Path("runs/materials/adit/last.pt"))
    parser.add_argument("--molecules", type=int, default=500)
    parser.add_argument("--crystals", type=int, default=200)
    parser.add_argument("--steps", type=int, default=None, help="Euler steps (default: the recipe's)")
    parser.add_argument("--cfg-scales", type=float, nargs="+", default=None,
                        help="guidance scales to compare (default: the recipe's)")
    parser.add_argument("--out", type=Path, default=Path("runs/materials/adit_benchmark"))
    parser.add_argument("--export", type=Path, default=None, help="also ship a float16 slim checkpoint here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    trained = load_trained(args.ckpt)
    if args.export is not None:
        trained = load_trained(export_half(trained, args.export))
    model, cfg, data = load_adit(trained)
    train, _ = load_split(data, "train")
    for scale in args.cfg_scales or [cfg.cfg_scale]:
        run_cfg = replace(cfg, cfg_scale=scale, sample_steps=args.steps or cfg.sample_steps,
                          eval_molecules=args.molecules, eval_crystals=args.crystals)
        out = args.out / f"cfg_{scale:g}"
        report = evaluate(model, run_cfg, data, train, out)
        print_report(report)
        write_json(report, out / "report.json")
        shipped = "" if args.export is None else f", evaluated as its float16 export {args.export}"
        note = (f"Checkpoint {args.ckpt}{shipped} ({trained.step} DiT steps; data: {data.qm9_molecules or 'all'} "
                f"QM9 train molecules with H + {data.crystals} train split). {args.molecules} molecules and "
                f"{args.crystals} crystals generated; novelty vs EDM's QM9 train SMILES; baselines and metrics in "
                f"domains/materials/README.md (## ADiT).")
        if args.export is not None and scale == (args.cfg_scales or [cfg.cfg_scale])[0]:
            export_half(trained, args.export, report)
            write_json({"model": f"ADiT: all-atom VAE {model.vae.cfg.hidden} x {model.vae.cfg.layers}+"
                                 f"{model.vae.cfg.layers} (latent {model.vae.cfg.latent_dim}) + latent DiT "
                                 f"{cfg.flow.hidden} x {cfg.flow.depth}, float16 weights",
                        "recipe": ["configs/materials/cpu/adit_vae.yaml", "configs/materials/cpu/adit.yaml"],
                        "command": "genforge train -c configs/materials/cpu/adit_vae.yaml && genforge train -c "
                                   "configs/materials/cpu/adit.yaml && python -m benchmarks.materials_adit "
                                   f"--ckpt {args.ckpt} --export {args.export}",
                        "train_steps": {"vae": trained.config["vae_recipe"]["train"]["steps"], "dit": trained.step},
                        "sampling": {"euler_steps": run_cfg.sample_steps, "cfg_scale": scale},
                        "metrics": report}, args.export.with_suffix(".json"))
        append_result(f"ADiT QM9 + {data.crystals} (CFG {scale:g}, {run_cfg.sample_steps} Euler steps)",
                      note + "\n\n" + report_markdown(report))


if __name__ == "__main__":
    main()
