"""2-D smoke with indirect control: fraction of smoke through the target exit, no control vs random band
forces vs Adam through the differentiable solver (BPTT).

``python -m benchmarks.pde_smoke --num 16 --iterations 20``

Held-out initial smoke blobs (seed 1) in the default 32 x 32 box (:class:`genforge.datasets.smoke.SmokeConfig`,
32 frames); the control acts only in the 8-cell outer band. Writes ``--out``/{benchmark.json, smoke.png}
and appends the table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.datasets.smoke import SmokeConfig, sample_controls, sample_initial, simulate
from genforge.domains.pde.plots import density_frames
from genforge.domains.pde.smoke_control import gradient_control, smoke_objective

ROOT = Path(__file__).resolve().parents[1]


def _row(name: str, out: dict[str, torch.Tensor], control: torch.Tensor, cfg: SmokeConfig, weight: float,
         seconds: float | None) -> tuple[str, dict[str, float]]:
    fraction = out["target_fraction"].double()
    others = (out["outflow"][..., 1:].sum((1, 2)) / out["injected"]).double()
    cost = smoke_objective(out, control, cfg, weight).double()
    row = {"target_fraction": float(fraction.mean()), "sem": float(fraction.std() / len(fraction) ** 0.5),
           "other_exits": float(others.mean()), "J": float(cost.mean())}
    wall = "" if seconds is None else f"{seconds:.0f}"
    return (f"| {name} | {row['target_fraction']:.3f} | {row['sem']:.3f} | {row['other_exits']:.3f} | "
            f"{row['J']:.3f} | {wall} |"), row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=16)
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.3)
    parser.add_argument("--energy-weight", type=float, default=1e-3)
    parser.add_argument("--out", type=Path, default=Path("outputs/pde/smoke_benchmark"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = SmokeConfig()
    generator = torch.Generator().manual_seed(1)
    rho0 = sample_initial(args.num, generator, cfg).float()
    random = sample_controls(args.num, generator, cfg).float()
    zero = torch.zeros_like(random)
    control, history, seconds = gradient_control(rho0, cfg, iterations=args.iterations, lr=args.lr,
                                                 energy_weight=args.energy_weight)
    with torch.no_grad():
        runs = {"no control (f = 0)": (simulate(rho0, None, cfg), zero, None),
                "random band forces (the data distribution)": (simulate(rho0, random, cfg), random, None),
                f"Adam through the solver (BPTT), {args.iterations} it": (simulate(rho0, control, cfg), control,
                                                                          seconds)}
    lines = ["| method | target-exit fraction | SEM | other exits | J | wall s |", "|---|---|---|---|---|---|"]
    rows = {}
    for name, (out, ctrl, wall) in runs.items():
        line, rows[name] = _row(name, out, ctrl, cfg, args.energy_weight, wall)
        lines.append(line)
    body = (f"`python -m benchmarks.pde_smoke --num {args.num} --iterations {args.iterations}`: {args.num} held-out "
            f"initial blobs (seed 1), {cfg.n} x {cfg.n} box, {cfg.frames} frames, control only in the {cfg.band}-cell "
            f"band; J = -fraction + {args.energy_weight:g} mean f^2 (higher fraction is better).\n\n"
            + "\n".join(lines))
    print(body)
    append_result("PDE: 2-D smoke, indirect control (fraction of smoke through the target exit)", body)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "benchmark.json").write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                                         "rows": rows, "bptt_history": history}, indent=2))
    figure = density_frames({"no control": runs["no control (f = 0)"][0]["density"][0],
                             "BPTT": runs[f"Adam through the solver (BPTT), {args.iterations} it"][0]["density"][0]},
                            [4, 12, 20, 28, cfg.frames], args.out / "smoke.png",
                            "smoke density, held-out problem 0 (target exit: top centre)")
    (ROOT / "benchmarks" / "figures").mkdir(exist_ok=True)
    shutil.copyfile(figure, ROOT / "benchmarks" / "figures" / "pde_smoke.png")


if __name__ == "__main__":
    main()
