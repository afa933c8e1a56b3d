"""WDNO vs physical-space diffusion vs direct gradient control on 1-D Burgers (held-out data, seed 1).

``python -m benchmarks.pde_burgers --wdno runs/pde_cpu_wdno/model.pt --physical runs/pde_cpu_physical/model.pt``

1. Simulation: relative L2 of u(t > 0) given (u0, f) on ``--num-sim`` held-out trajectories, both models at the
   same NFE, next to the trivial baselines.
2. Guidance strength: for each model, the strength in ``--scales`` (``--guidance``: ``wdno`` = WDNO's
   grad_{x0} J with the cosine-beta weight, or ``jacobian`` = DPS through the network) with the lowest
   re-simulated J on ``--num-tune`` *training* pairs (never the held-out ones); stored into the model file
   (``guidance``, ``guidance_scale``).
3. Control: on ``--num-control`` held-out (u0, u(T)) pairs, the controls of each model (guided DDIM; with
   ``--samples K`` also the best of K draws by coarse-solver J), of Adam on J through the differentiable
   solver (BPTT, ``--gd-iterations``, with its wall time), f = 0, and the control that generated the target;
   all re-simulated with the fine solver (``--refine``).
Writes ``--out``/{benchmark.json, heatmaps.png, j_bars.png}, appends the tables to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.config import load_task_config
from genforge.datasets.burgers import cached_generate
from genforge.domains.pde.control import ControlObjective, evaluate_controls, gradient_control
from genforge.domains.pde.evaluate import control_row
from genforge.domains.pde.metrics import simulation_scores
from genforge.domains.pde.model import PDEModel, load_model, save_model
from genforge.domains.pde.plots import heatmaps, j_bars
from genforge.domains.pde.sampling import control, simulate
from genforge.domains.pde.tasks import model_from_training_checkpoint


def _tune(model: PDEModel, pairs: dict[str, torch.Tensor], scales: list[float], args: argparse.Namespace,
          guidance: str | None = None) -> tuple[float, dict[str, float]]:
    u = pairs["u"]
    objective = ControlObjective(u[:, -1].double(), args.energy_weight)
    results = {}
    for scale in scales:
        f, _ = control(model, u[:, 0], u[:, -1], objective, scale=scale, steps=args.steps, seed=args.seed,
                       guidance=guidance or args.guidance)
        results[str(scale)] = float(evaluate_controls(u[:, 0], f, objective, 1)["J"].mean())
        print(f"  gamma {scale:g}: J(train pairs, coarse solver) = {results[str(scale)]:.4f}", flush=True)
    best = min(scales, key=lambda s: results[str(s)])
    return best, results


def gradient_baseline(u: torch.Tensor, objective: ControlObjective, args: argparse.Namespace) -> tuple[
        torch.Tensor, float]:
    """Adam through the solver (121 points, 30 RK3 steps per interval), cached in ``--gd-file`` if given."""
    if args.gd_file is not None and args.gd_file.is_file():
        saved = torch.load(args.gd_file, weights_only=True)
        if saved["u0"].shape == u[:, 0].shape and torch.equal(saved["u0"], u[:, 0]):
            return saved["f"], float(saved["seconds"])
    f, seconds = gradient_control(u[:, 0], objective, refine=1, iterations=args.gd_iterations, lr=args.gd_lr,
                                  steps_per_interval=30,
                                  progress=lambda i, j: print(f"  BPTT iteration {i}: J = {j:.4f}", flush=True))
    if args.gd_file is not None:
        args.gd_file.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"u0": u[:, 0], "f": f, "seconds": seconds}, args.gd_file)
    return f, seconds


def _table(rows: dict[str, dict[str, float]], columns: list[str]) -> str:
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.4g}" if c in row else "" for c in columns) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wdno", type=Path, default=Path("runs/pde_cpu_wdno/model.pt"))
    parser.add_argument("--physical", type=Path, default=Path("runs/pde_cpu_physical/model.pt"))
    parser.add_argument("--wdno-checkpoint", type=Path, default=None,
                        help="also evaluate this trainer checkpoint of --wdno-config (e.g. an equal-compute step)")
    parser.add_argument("--wdno-config", type=Path, default=Path("configs/pde/cpu/wdno.yaml"))
    parser.add_argument("--out", type=Path, default=Path("outputs/pde/benchmark"))
    parser.add_argument("--num-sim", type=int, default=32)
    parser.add_argument("--num-control", type=int, default=16)
    parser.add_argument("--num-tune", type=int, default=4)
    parser.add_argument("--scales", type=float, nargs="+", default=[3e3, 1e4, 3e4])
    parser.add_argument("--guidance", choices=["wdno", "jacobian"], default="wdno")
    parser.add_argument("--jacobian-scales", type=float, nargs="*", default=None,
                        help="also run the main WDNO model with DPS (jacobian) guidance tuned over these gammas")
    parser.add_argument("--samples", type=int, default=1, help="also report the best of K draws (coarse-solver J)")
    parser.add_argument("--steps", type=int, default=25, help="DDIM steps = NFE, same for both models")
    parser.add_argument("--sim-steps", type=int, nargs="*", default=None, help="NFEs for simulation (default --steps)")
    parser.add_argument("--energy-weight", type=float, default=2e-5)
    parser.add_argument("--refine", type=int, default=2, help="re-simulation solver refinement")
    parser.add_argument("--gd-iterations", type=int, default=20)
    parser.add_argument("--gd-lr", type=float, default=0.1)
    parser.add_argument("--gd-file", type=Path, default=None, help="cache of the BPTT controls (reused if it matches)")
    parser.add_argument("--only-gradient", action="store_true", help="only compute the BPTT baseline (--gd-file)")
    parser.add_argument("--ship", action="store_true",
                        help="also write domains/pde/checkpoints/wdno_burgers.{pt,json} from --wdno with these metrics")
    parser.add_argument("--no-record", action="store_true", help="do not append to benchmarks/RESULTS.md")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-num-train", type=int, default=2000)
    parser.add_argument("--data-num-test", type=int, default=128)
    args = parser.parse_args()
    torch.set_num_threads(1)

    test = cached_generate(args.data_num_test, 1, 1)
    if args.only_gradient:
        u = test["u"][:args.num_control].double()
        gradient_baseline(u, ControlObjective(u[:, -1], args.energy_weight), args)
        return
    models = {"WDNO (wavelet)": load_model(args.wdno), "physical-space diffusion": load_model(args.physical)}
    if args.wdno_checkpoint is not None:
        _, cfg, _ = load_task_config(args.wdno_config)
        extra = model_from_training_checkpoint(cfg, "pde.wdno", args.wdno_checkpoint)
        models[f"WDNO (wavelet) at step {extra.record['steps']}"] = extra
    train = cached_generate(args.data_num_train, 0, 1)
    u_sim, f_sim = test["u"][:args.num_sim], test["f"][:args.num_sim]

    simulation = {}
    for name, model in models.items():
        for steps in args.sim_steps or [args.steps]:
            start = time.perf_counter()
            predicted = simulate(model, u_sim[:, 0], f_sim, steps=steps, seed=args.seed)
            simulation[f"{name}, {steps} NFE"] = {**simulation_scores(predicted, u_sim),
                                                  "seconds": time.perf_counter() - start}
            print(name, simulation[f"{name}, {steps} NFE"], flush=True)
    simulation["baseline: u(t) = 0"] = simulation_scores(torch.zeros_like(u_sim), u_sim)
    simulation["baseline: u(t) = u0"] = simulation_scores(u_sim[:, :1].expand_as(u_sim), u_sim)

    tuning = {}
    tune_pairs = {"u": train["u"][:args.num_tune]}
    for name, model in models.items():
        print(f"tuning {name}", flush=True)
        best, results = _tune(model, tune_pairs, args.scales, args)
        tuning[name] = {"best": best, "J": results}
        model.record["guidance_scale"], model.record["guidance"] = best, args.guidance
        if name in ("WDNO (wavelet)", "physical-space diffusion"):
            save_model(model.record, args.wdno if name.startswith("WDNO") else args.physical)

    u, f_true = test["u"][:args.num_control].double(), test["f"][:args.num_control].double()
    objective = ControlObjective(u[:, -1], args.energy_weight)
    controls, walls, model_u = {}, {}, {}
    for name, model in models.items():
        for samples in sorted({1, args.samples}):
            label = name if samples == 1 else f"{name}, best of {samples} (coarse-solver J)"
            start = time.perf_counter()
            controls[label], model_u[label] = control(model, u[:, 0], u[:, -1], objective,
                                                      scale=tuning[name]["best"], steps=args.steps, seed=args.seed,
                                                      guidance=args.guidance, samples=samples)
            walls[label] = time.perf_counter() - start
    if args.jacobian_scales:
        name = "WDNO (wavelet)"
        print(f"tuning {name}, jacobian guidance", flush=True)
        best, results = _tune(models[name], tune_pairs, args.jacobian_scales, args, "jacobian")
        tuning[f"{name}, jacobian"] = {"best": best, "J": results}
        label = f"{name}, DPS guidance through the net (gamma {best:g})"
        start = time.perf_counter()
        controls[label], model_u[label] = control(models[name], u[:, 0], u[:, -1], objective, scale=best,
                                                  steps=args.steps, seed=args.seed, guidance="jacobian")
        walls[label] = time.perf_counter() - start
    gd_name = f"gradient (Adam, BPTT, {args.gd_iterations} it)"
    controls[gd_name], walls[gd_name] = gradient_baseline(u, objective, args)
    controls["baseline: f = 0"], walls["baseline: f = 0"] = torch.zeros_like(f_true), 0.0
    controls["reference: f that made the target"], walls["reference: f that made the target"] = f_true, 0.0
    scored = {name: evaluate_controls(u[:, 0], f, objective, args.refine) for name, f in controls.items()}
    control_rows = {name: {**control_row(s), "seconds": walls[name]} for name, s in scored.items()}
    for name, row in control_rows.items():
        print(name, row, flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"simulation": simulation, "tuning": tuning, "control": control_rows, "args": {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    (args.out / "benchmark.json").write_text(json.dumps(payload, indent=2))
    panels = {"target trajectory": (u[0].float(), f_true[0].float())}
    panels.update({f"{name} (re-simulated)": (scored[name]["u"][0].float(), controls[name][0].float())
                   for name in controls if not name.startswith(("baseline", "reference"))
                   and not any(tag in name for tag in (" at step ", "best of", "DPS"))})
    heatmaps(panels, args.out / "heatmaps.png", title="held-out control pair 0")
    j_bars({name: (row["J"], row["J_sem"]) for name, row in control_rows.items()}, args.out / "j_bars.png",
           title=f"Burgers control, {args.num_control} held-out pairs")
    body = (f"Held-out Burgers data (seed 1, coarse-solver trajectories), {args.steps} DDIM steps (NFE) for both "
            f"diffusion models.\n\nSimulation (u given u0, f; {args.num_sim} trajectories, lower is better):\n\n"
            + _table(simulation, ["rel_l2", "mse", "seconds"])
            + f"\n\nControl ({args.num_control} held-out (u0, u_T) pairs, J = MSE(u_T) + {args.energy_weight:g} "
            f"sum f^2, every control re-simulated with the {121 * args.refine - 1}-point solver; {args.guidance} "
            f"guidance, strength "
            f"tuned on {args.num_tune} training pairs: "
            + ", ".join(f"{n} {t['best']:g}" for n, t in tuning.items()) + "):\n\n"
            + _table(control_rows, ["J", "J_sem", "tracking", "energy", "seconds"]))
    if not args.no_record:
        append_result("PDE on 1-D Burgers: WDNO (clean conditioning, WDNO guidance) vs physical diffusion, BPTT", body)
    print(body)
    if args.ship:
        _ship(models["WDNO (wavelet)"], payload)


def _ship(model: PDEModel, payload: dict) -> None:  # type: ignore[type-arg]
    """The shipped checkpoint: the WDNO model file plus a json with its recipe, steps and measured metrics."""
    folder = Path(__file__).resolve().parents[1] / "domains" / "pde" / "checkpoints"
    record = dict(model.record)
    record["metrics"] = {"simulation": payload["simulation"], "control": payload["control"]}
    save_model(record, folder / "wdno_burgers.pt")
    summary = {"model": "wdno", "dataset": "burgers (generated, seed 0, refine 1)", "task": record.get("task"),
               "recipe": "configs/pde/cpu/wdno.yaml", "config": record.get("config"), "steps": record.get("steps"),
               "guidance": record.get("guidance"), "guidance_scale": record.get("guidance_scale"),
               "metrics": record["metrics"], "benchmark_args": payload["args"]}
    (folder / "wdno_burgers.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
