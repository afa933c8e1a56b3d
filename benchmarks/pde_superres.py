"""Super-resolution across wavelet levels on Burgers: 2x and 4x finer than training vs interpolation.

``python -m benchmarks.pde_superres --ckpt runs/pde_cpu_superres/model.pt``

The model of ``configs/pde/cpu/superres.yaml`` (trained on 40 x 60 (t, x) trajectories and their coarser
Haar levels) takes the 40 x 60 coarse band (2-D block means) of held-out trajectories of the fine solver
(479 vertices, data seed 1) and is applied once (80 x 120, 2x) or twice (160 x 240, 4x); relative L2 / MSE
against the solver on that grid, next to bicubic / bilinear / nearest interpolation and "coarse band +
bicubic details" (the model's output at zero residual). ``--ckpt`` may also be a trainer checkpoint
(``step_*.pt``) of the recipe. Writes ``--out``/{benchmark.json, superres.png}, appends the table to
benchmarks/RESULTS.md; ``--ship`` writes domains/pde/checkpoints/superres_burgers.{pt,json}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import replace
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.config import dump_task_config, load_task_config
from genforge.datasets import burgers_multires
from genforge.domains.pde.model import build_unet, multiple_of, save_model
from genforge.domains.pde.plots import field_panels
from genforge.domains.pde.superres import (
    SuperResConfig,
    SuperResModel,
    coarsen,
    filter_bank,
    fit_scales,
    interpolate,
    load_superres,
    superres_record,
)
from genforge.domains.pde.tasks import evaluate_superres

ROOT = Path(__file__).resolve().parents[1]


def load(path: Path, cfg: SuperResConfig) -> tuple[SuperResModel, int]:
    """(model, training steps) from a model file or a trainer checkpoint of the recipe (scales refit as in training)."""
    record = torch.load(path, map_location="cpu", weights_only=True)
    if "kind" in record:
        model = load_superres(path)
        return model, int(model.record.get("steps", 0))
    data = burgers_multires.cached_generate(cfg.num_train, cfg.data_seed, cfg.frames, cfg.points, cfg.solver_points)
    coarse_scale, detail_scale = fit_scales(data.double(), filter_bank(cfg.wavelet), cfg.levels, cfg.base)
    net = build_unet(cfg.net, 3, 1)
    net.load_state_dict(record["ema"]["shadow"] if record.get("ema") else record["model"])
    return SuperResModel(net.eval(), cfg.wavelet, cfg.base, coarse_scale, detail_scale, multiple_of(cfg.net)), int(
        record["step"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True)
    parser.add_argument("--recipe", type=Path, default=ROOT / "configs" / "pde" / "cpu" / "superres.yaml")
    parser.add_argument("--num", type=int, default=32, help="held-out trajectories")
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps (NFE) per level")
    parser.add_argument("--out", type=Path, default=Path("outputs/pde/superres"))
    parser.add_argument("--ship", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    _, cfg, _ = load_task_config(args.recipe)
    model, steps = load(args.ckpt, cfg)
    start = time.perf_counter()
    metrics = evaluate_superres(model, cfg, args.num, args.steps)
    seconds = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)

    lines = ["| grid (finer than training) | method | rel. L2 | MSE |", "|---|---|---|---|"]
    for factor, rows in metrics.items():
        size = f"{cfg.frames * int(factor[:-1])} x {cfg.points * int(factor[:-1])} ({factor})"
        lines += [f"| {size} | {name} | {row['rel_l2']:.4f} | {row['mse']:.2e} |" for name, row in rows.items()]
    body = (f"`python -m benchmarks.pde_superres --ckpt {args.ckpt} --num {args.num} --steps {args.steps}`: "
            f"model of `{args.recipe.relative_to(ROOT)}` after {steps} steps; input = the {cfg.frames} x {cfg.points} "
            f"coarse band (Haar block means) of {args.num} held-out trajectories (seed {cfg.data_seed + 1}) of the "
            f"{cfg.eval_solver_points}-vertex solver; reference = the solver on the finer grid; evaluation "
            f"{seconds:.0f} s (solver references cached).\n\n" + "\n".join(lines))
    print(body)
    append_result("PDE: Burgers super-resolution across wavelet levels (2x / 4x finer than training)", body)

    factor = max(cfg.eval_factors)
    truth = burgers_multires.cached_generate(cfg.num_test, cfg.data_seed + 1, cfg.frames * factor,
                                             cfg.points * factor, cfg.eval_solver_points)[:1]
    coarse = coarsen(truth, model.bank, factor.bit_length() - 1)
    predicted = model.superresolve(coarse, factor, steps=args.steps, seed=cfg.train.seed)
    bicubic = interpolate(coarse, factor)
    figure = field_panels({"input (coarse band)": coarse[0], "bicubic": bicubic[0], "model": predicted[0],
                           "fine solver": truth[0], "bicubic - solver": (bicubic - truth)[0],
                           "model - solver": (predicted - truth)[0]}, args.out / "superres.png",
                          f"Burgers u(t, x): {factor}x super-resolution of held-out trajectory 0", columns=4)
    figures = ROOT / "benchmarks" / "figures"
    figures.mkdir(exist_ok=True)
    shutil.copyfile(figure, figures / "pde_superres.png")
    payload = {"args": {k: str(v) for k, v in vars(args).items()}, "steps": steps, "seconds": seconds,
               "metrics": metrics}
    (args.out / "benchmark.json").write_text(json.dumps(payload, indent=2))
    if args.ship:
        folder = ROOT / "domains" / "pde" / "checkpoints"
        config = dump_task_config("pde.superres", replace(cfg, train=replace(cfg.train, steps=steps)))
        save_model(superres_record(model, cfg.net, config=config, steps=steps, metrics=metrics),
                   folder / "superres_burgers.pt")
        summary = {"model": "superres", "dataset": "burgers (generated, cell-centred 40 x 60, seed 0)",
                   "task": "pde.superres", "recipe": "configs/pde/cpu/superres.yaml", "config": config,
                   "steps": steps, "metrics": metrics, "benchmark_args": payload["args"]}
        (folder / "superres_burgers.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
