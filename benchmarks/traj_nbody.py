"""Trajectory forecasting: GeoTDM vs EGNN regression, transformer diffusion and constant velocity.

``python -m benchmarks.traj_nbody`` (``--dataset md`` for the Langevin MD molecule, ``md_nve`` for its
constant-energy runs) trains every missing run of the cpu recipes
(``configs/trajectories/cpu/{geotdm,egnn,transformer}_<dataset>.yaml``; a run whose ``metrics.json`` exists is
reused, ``--retrain`` forces it), collects their held-out metrics into one markdown table (ADE / FDE of one sample,
min-ADE / min-FDE over K = 5, training steps), prints it, appends it to benchmarks/RESULTS.md and, with
``--write-readme``, replaces the table in domains/trajectories/README.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.results import append_result, replace_marked_section
from genforge.core.config import load_task_config
from genforge.domains.trajectories import tasks  # noqa: F401  (registers the trajectory tasks)

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "domains" / "trajectories" / "README.md"
MODELS = ("geotdm", "egnn", "transformer")
LABELS = {"geotdm": "GeoTDM (equivariant diffusion, learnable prior)", "egnn": "EGNN regression (one-shot)",
          "transformer": "Transformer diffusion (non-equivariant, rotation augm.)"}


def run_recipe(model: str, dataset: str, retrain: bool) -> dict:
    """The run's metrics.json, training the recipe first when it is missing (or ``retrain``)."""
    recipe = ROOT / "configs" / "trajectories" / "cpu" / f"{model}_{dataset}.yaml"
    _, cfg, run = load_task_config(recipe)
    path = ROOT / cfg.train.out_dir / "metrics.json"
    if retrain or not path.is_file():
        run(cfg)
    return json.loads(path.read_text())


def trivial_baselines(dataset: str) -> dict[str, dict[str, float]]:
    """Constant velocity, "last frame repeated" and the least-squares linear extrapolation (fitted on every
    training window; per atom for MD) on the GeoTDM recipe's held-out windows."""
    from genforge.domains.trajectories.data import eval_windows
    from genforge.domains.trajectories.metrics import (
        constant_velocity,
        fit_linear_extrapolation,
        forecast_metrics,
        linear_extrapolation,
    )
    from genforge.domains.trajectories.tasks import load_sets

    _, cfg, _ = load_task_config(ROOT / "configs" / "trajectories" / "cpu" / f"geotdm_{dataset}.yaml")
    train, held_out = load_sets(cfg)
    windows, _ = eval_windows(held_out, cfg.cond_frames + cfg.future_frames, cfg.eval_stride, cfg.eval_systems)
    x_cond, target = windows[:, :cfg.cond_frames], windows[:, cfg.cond_frames:]
    static = x_cond[:, -1:].expand_as(target)
    molecular = dataset.startswith("md")
    weights = fit_linear_extrapolation(train.pos, cfg.cond_frames, cfg.future_frames, per_particle=molecular)
    return {"constant velocity": forecast_metrics(constant_velocity(x_cond, cfg.future_frames)[:, None], target),
            "last frame repeated": forecast_metrics(static[:, None], target),
            f"linear extrapolation (least squares on the training windows{', per atom' if molecular else ''})":
                forecast_metrics(linear_extrapolation(x_cond, weights)[:, None], target)}


def table(dataset: str, results: dict[str, dict]) -> str:
    """Markdown table of the trivial baselines and the trained runs."""
    unit = "Angstrom" if dataset.startswith("md") else "simulation units"
    lines = [f"Held-out {dataset} windows, 10 observed -> 20 forecast frames; errors in {unit}; K = 5 samples "
             "for min-ADE / min-FDE (deterministic models: min = single).", "",
             "| model | ADE | FDE | min-ADE | min-FDE | train steps (batch 32) |",
             "|---|---|---|---|---|---|"]
    for label, m in trivial_baselines(dataset).items():
        lines.append(f"| {label} | {m['ade']:.4f} | {m['fde']:.4f} | {m['min_ade']:.4f} | {m['min_fde']:.4f} | - |")
    for model, result in results.items():
        rows = [(LABELS[model], result["metrics"][model])]
        if f"{model}_sample_mean" in result["metrics"]:
            rows.append((f"{LABELS[model].split(' (')[0]}: mean of the K samples (point forecast)",
                         result["metrics"][f"{model}_sample_mean"]))
        if "geotdm_prior_mean" in result["metrics"]:
            rows.append(("GeoTDM learnt prior mean only (deterministic)", result["metrics"]["geotdm_prior_mean"]))
        for label, m in rows:
            lines.append(f"| {label} | {m['ade']:.4f} | {m['fde']:.4f} | {m['min_ade']:.4f} | "
                         f"{m['min_fde']:.4f} | {result['steps']} |")
    return "\n".join(lines)




def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("nbody", "md", "md_nve"), default="nbody")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    results = {model: run_recipe(model, args.dataset, args.retrain) for model in args.models}
    body = table(args.dataset, results)
    print(body)
    append_result(f"Trajectory forecasting ({args.dataset}, cpu recipes)", body)
    if args.write_readme:
        replace_marked_section(README, f"traj_forecast_{args.dataset}", body)


if __name__ == "__main__":
    main()
