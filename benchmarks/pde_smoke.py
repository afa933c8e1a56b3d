"""2-D smoke with indirect control: fraction of smoke through the target exit, no control vs random band
forces vs Adam through the differentiable solver (BPTT) vs guided diffusion (WDNO in 3-D wavelet space and the
same diffusion in physical space), every control re-simulated by the smoke solver.

``python -m benchmarks.pde_smoke --num 16 --iterations 20 --wdno runs/pde_cpu_wdno_smoke/model.pt
--physical runs/pde_cpu_physical_smoke/model.pt --samples 4``

Held-out initial smoke blobs (seed 1) in the default 32 x 32 box (:class:`genforge.datasets.smoke.SmokeConfig`,
32 frames); the control acts only in the 8-cell outer band. The guidance of each model (kind and strength) is
chosen on ``--tune-num`` validation blobs (seed 2, neither training nor held out) by re-simulated J over
``--grid``. Writes ``--out``/{benchmark.json, smoke.png} and appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.datasets.smoke import SmokeConfig, sample_controls, sample_initial, simulate
from genforge.domains.pde.model import PDEModel, load_model, save_model
from genforge.domains.pde.plots import density_frames
from genforge.domains.pde.smoke_control import gradient_control, smoke_objective
from genforge.domains.pde.smoke_evaluate import held_out_initial, score_controls
from genforge.domains.pde.smoke_sampling import control_smoke

ROOT = Path(__file__).resolve().parents[1]
GRID = "wdno:1e5,wdno:1e6,wdno:1e7,jacobian:30,jacobian:300,jacobian:3000"


def _row(name: str, out: dict[str, torch.Tensor], control: torch.Tensor, cfg: SmokeConfig, weight: float,
         seconds: float | None) -> tuple[str, dict[str, float]]:
    fraction = out["target_fraction"].double()
    others = (out["outflow"][..., 1:].sum((1, 2)) / out["injected"]).double()
    cost = smoke_objective(out, control, cfg, weight).double()
    row = {"target_fraction": float(fraction.mean()), "sem": float(fraction.std() / len(fraction) ** 0.5),
           "other_exits": float(others.mean()), "J": float(cost.mean()), "seconds": seconds}
    wall = "" if seconds is None else f"{seconds:.0f}"
    return (f"| {name} | {row['target_fraction']:.3f} | {row['sem']:.3f} | {row['other_exits']:.3f} | "
            f"{row['J']:.3f} | {wall} |"), row


def _short(name: str) -> str:
    """A figure label short enough for one column: 'WDNO, wdno guidance', 'physical, best of 4', 'BPTT'."""
    name = name.replace(" (3-D wavelet)", "").replace("physical-space diffusion", "physical")
    return "BPTT" if "BPTT" in name else name.split(" (")[0].replace(" by solver J", "")


def _bptt(rho0: torch.Tensor, cfg: SmokeConfig, args: argparse.Namespace) -> tuple[torch.Tensor, list[float], float]:
    """BPTT controls, cached in ``--out`` per (num, iterations, lr, energy weight): deterministic, ~4 min."""
    path = args.out / f"bptt_n{args.num}_it{args.iterations}_lr{args.lr:g}_w{args.energy_weight:g}.pt"
    if path.is_file():
        cached = torch.load(path, weights_only=True)
        return cached["control"], cached["history"], float(cached["seconds"])
    control, history, seconds = gradient_control(rho0, cfg, iterations=args.iterations, lr=args.lr,
                                                 energy_weight=args.energy_weight)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"control": control, "history": history, "seconds": seconds}, path)
    return control, history, seconds


def tune(model: PDEModel, grid: str, num: int, args: argparse.Namespace) -> tuple[str, float, dict[str, float]]:
    """(guidance, scale) of ``grid`` with the lowest re-simulated mean J on ``num`` validation blobs (seed 2)."""
    cfg = model.codec.smoke
    rho0 = held_out_initial(num, cfg, seed=2)
    scores = {}
    for item in grid.split(","):
        kind, scale = item.split(":")
        control, _ = control_smoke(model, rho0, scale=float(scale), energy_weight=args.energy_weight,
                                   steps=args.steps, seed=0, guidance=kind)
        scores[item] = float(score_controls(rho0, control, cfg, args.energy_weight)["J"].mean())
        print(f"  tune {item}: validation J {scores[item]:.4f}")
    best = min(scores, key=scores.get)
    kind, scale = best.split(":")
    return kind, float(scale), scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--energy-weight", type=float, default=1e-3)
    parser.add_argument("--wdno", type=Path, help="pde.wdno_smoke model file")
    parser.add_argument("--physical", type=Path, help="pde.physical_smoke model file")
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps (NFE) of the models")
    parser.add_argument("--samples", type=int, default=1, help="also best of K draws by solver J (K > 1)")
    parser.add_argument("--grid", default=GRID, help="guidance:scale candidates tuned on validation blobs")
    parser.add_argument("--tune-num", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("outputs/pde/smoke_benchmark"))
    parser.add_argument("--ship", action="store_true",
                        help="write the WDNO model with its tuned guidance to domains/pde/checkpoints/wdno_smoke.*")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = SmokeConfig()
    generator = torch.Generator().manual_seed(1)
    rho0 = sample_initial(args.num, generator, cfg).float()
    random = sample_controls(args.num, generator, cfg).float()
    zero = torch.zeros_like(random)
    with torch.no_grad():
        runs = {"no control (f = 0)": (simulate(rho0, None, cfg), zero, None),
                "random band forces (the data distribution)": (simulate(rho0, random, cfg), random, None)}
    history: list[float] = []
    if args.iterations:
        control, history, seconds = _bptt(rho0, cfg, args)
        with torch.no_grad():
            runs[f"Adam through the solver (BPTT), {args.iterations} it"] = (simulate(rho0, control, cfg), control,
                                                                             seconds)
    tuned: dict[str, dict] = {}  # type: ignore[type-arg]
    models: dict[str, PDEModel] = {}
    for label, path in (("WDNO (3-D wavelet)", args.wdno), ("physical-space diffusion", args.physical)):
        if path is None:
            continue
        model = models[label] = load_model(path)
        print(f"{label}: tuning guidance on {args.tune_num} validation blobs")
        kind, scale, scores = tune(model, args.grid, args.tune_num, args)
        tuned[label] = {"guidance": kind, "scale": scale, "validation_J": scores, "steps": model.record.get("steps")}
        settings = [(f"{label}, unguided", 1, "wdno", 0.0),
                    (f"{label}, {kind} guidance ({scale:g}), {args.steps} NFE", 1, kind, scale)]
        if args.samples > 1:
            settings.append((f"{label}, best of {args.samples} by solver J", args.samples, kind, scale))
        for name, samples, guidance, strength in settings:
            start = time.perf_counter()
            control, _ = control_smoke(model, rho0, scale=strength, energy_weight=args.energy_weight,
                                       steps=args.steps, seed=0, guidance=guidance, samples=samples)
            seconds = time.perf_counter() - start
            with torch.no_grad():
                runs[name] = (simulate(rho0, control.float(), cfg), control.float(), seconds)
    lines = ["| method | target-exit fraction | SEM | other exits | J | wall s |", "|---|---|---|---|---|---|"]
    rows = {}
    for name, (out, ctrl, wall) in runs.items():
        line, rows[name] = _row(name, out, ctrl, cfg, args.energy_weight, wall)
        lines.append(line)
    body = (f"`python -m benchmarks.pde_smoke --num {args.num} --iterations {args.iterations}"
            + (f" --wdno {args.wdno}" if args.wdno else "") + (f" --physical {args.physical}" if args.physical else "")
            + f" --samples {args.samples}`: {args.num} held-out initial blobs (seed 1), {cfg.n} x {cfg.n} box, "
            f"{cfg.frames} frames, control only in the {cfg.band}-cell band; J = -fraction + {args.energy_weight:g} "
            f"mean f^2 (higher fraction is better); every control re-simulated by the solver; guidance tuned on "
            f"{args.tune_num} validation blobs (seed 2): "
            + ", ".join(f"{k}: {v['guidance']} {v['scale']:g}" for k, v in tuned.items()) + ".\n\n"
            + "\n".join(lines))
    print(body)
    append_result("PDE: 2-D smoke, indirect control (fraction of smoke through the target exit)", body)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                         "rows": rows, "tuned": tuned, "bptt_history": history},
                                                        indent=2))
    shown = {_short(name): out["density"][0] for name, (out, _, _) in runs.items()
             if "random" not in name and "unguided" not in name}
    figure = density_frames(shown, [4, 12, 20, 28, cfg.frames], args.out / "smoke.png",
                            "smoke density, held-out problem 0 (target exit: top centre)")
    (ROOT / "benchmarks" / "figures").mkdir(exist_ok=True)
    shutil.copyfile(figure, ROOT / "benchmarks" / "figures" / "pde_smoke.png")
    if args.ship and "WDNO (3-D wavelet)" in models:
        _ship(models["WDNO (3-D wavelet)"], tuned["WDNO (3-D wavelet)"], rows, args)


def _ship(model: PDEModel, tuned: dict, rows: dict, args: argparse.Namespace) -> None:  # type: ignore[type-arg]
    """The shipped checkpoint: the WDNO smoke model with its tuned guidance, plus a json (recipe, steps, metrics)."""
    folder = ROOT / "domains" / "pde" / "checkpoints"
    record = {**model.record, "guidance": tuned["guidance"], "guidance_scale": tuned["scale"]}
    record["metrics"] = {**record.get("metrics", {}), "control": rows}
    save_model(record, folder / "wdno_smoke.pt")
    summary = {"model": "wdno", "dataset": "smoke (generated, seed 0, 32 x 32, 32 frames)", "task": record.get("task"),
               "recipe": "configs/pde/cpu/wdno_smoke.yaml", "config": record.get("config"),
               "steps": record.get("steps"), "guidance": tuned["guidance"], "guidance_scale": tuned["scale"],
               "metrics": record["metrics"], "benchmark_args": {k: str(v) for k, v in vars(args).items()}}
    (folder / "wdno_smoke.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
