"""Evaluation entry points shared by the CLI and the benchmark: simulation error and re-simulated control cost.

Every proposed control is scored by re-simulating it with the solver at ``refine`` (float64), never by the
model's own prediction of u.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genforge.core.atomic import write_json
from genforge.core.errors import DataError
from genforge.domains.pde.control import ControlObjective, evaluate_controls
from genforge.domains.pde.io import load_states, load_trajectories, save_npz
from genforge.domains.pde.metrics import simulation_scores
from genforge.domains.pde.model import PDEModel, load_model
from genforge.domains.pde.plots import heatmaps
from genforge.domains.pde.sampling import control, simulate

DEFAULT_SCALE = {"wdno": 1e4, "jacobian": 30.0}
"""Guidance strength per guidance kind when a model file stores none (``guidance_scale``)."""


def guidance_kind(model: PDEModel, guidance: str | None) -> str:
    """``guidance`` if given, else the model's ``guidance`` (files tuned before it was stored: ``jacobian``)."""
    if guidance is not None:
        return guidance
    return str(model.record.get("guidance", "jacobian" if "guidance_scale" in model.record else "wdno"))


def guidance_scale(model: PDEModel, scale: float | None, guidance: str | None = None) -> float:
    """``scale`` if given, else the model's tuned ``guidance_scale`` (if tuned for this kind), else the default."""
    kind = guidance_kind(model, guidance)
    if scale is not None:
        return float(scale)
    if "guidance_scale" in model.record and guidance_kind(model, None) == kind:
        return float(model.record["guidance_scale"])
    return DEFAULT_SCALE[kind]


def control_row(scores: dict[str, Tensor]) -> dict[str, float]:
    """Means and the standard error of J over the pairs."""
    j = scores["J"]
    sem = float(j.std() / j.numel() ** 0.5) if j.numel() > 1 else 0.0
    return {"J": float(j.mean()), "J_sem": sem, "tracking": float(scores["tracking"].mean()),
            "energy": float(scores["energy"].mean())}




def run_control(ckpt: Path, u0_path: Path, target_path: Path, out: Path, *, scale: float | None,
                energy_weight: float, steps: int, refine: int, seed: int, guidance: str | None = None,
                samples: int = 1, plot: bool = True) -> dict[str, float]:
    """Controls for every (u0, target) pair, re-simulated; writes control.npz / control.json / control.png."""
    model = load_model(ckpt)
    u0 = load_states(u0_path, "u0", 0)
    target = load_states(target_path, "target", -1)
    if u0.shape[0] != target.shape[0]:
        raise DataError(f"has {target.shape[0]} targets for {u0.shape[0]} initial states", source=target_path,
                        field="target")
    objective = ControlObjective(target, energy_weight)
    kind, gamma = guidance_kind(model, guidance), guidance_scale(model, scale, guidance)
    f, _ = control(model, u0, target, objective, scale=gamma, steps=steps, seed=seed, guidance=kind, samples=samples)
    scores = evaluate_controls(u0, f, objective, refine)
    row = control_row(scores)
    summary = {"num": int(u0.shape[0]), "J_mean": row["J"], "tracking_mean": row["tracking"],
               "energy_mean": row["energy"], "energy_weight": energy_weight, "refine": refine, "steps": steps,
               "guidance": kind, "scale": gamma, "samples": samples, "J": scores["J"].tolist()}
    panels = {"target": (_target_panel(u0[0], target[0]), torch.zeros_like(f[0])),
              "re-simulated with the proposed f": (scores["u"][0].float(), f[0].float())}
    save_npz(out / "control.npz", {"f": f.float(), "u": scores["u"].float(), "J": scores["J"]})
    write_json(summary, out / "control.json")
    if plot:
        heatmaps(panels, out / "control.png", title=f"pair 0: J = {float(scores['J'][0]):.3g}")
    return summary


def _target_panel(u0: Tensor, target: Tensor) -> Tensor:
    """An ``[81, 120]`` picture of the control problem: u0 in the first frame, the target in the last."""
    picture = torch.zeros(81, u0.shape[-1])
    picture[0], picture[-1] = u0.float(), target.float()
    return picture


def run_evaluate(ckpt: Path, data: Path, out: Path, *, num: int, steps: int, scale: float | None,
                 energy_weight: float, refine: int, seed: int, guidance: str | None = None,
                 samples: int = 1) -> dict[str, dict[str, dict[str, float]]]:
    """Simulation and control metrics of one model on a trajectory file; writes metrics.json + figures."""
    model = load_model(ckpt)
    trajectories = load_trajectories(data)
    u, f = trajectories["u"][:num], trajectories["f"][:num]
    predicted = simulate(model, u[:, 0], f, steps=steps, seed=seed)
    simulation = {"model": simulation_scores(predicted, u),
                  "baseline: u(t) = 0": simulation_scores(torch.zeros_like(u), u),
                  "baseline: u(t) = u0": simulation_scores(u[:, :1].expand_as(u), u)}
    objective = ControlObjective(u[:, -1], energy_weight)
    proposed, _ = control(model, u[:, 0], u[:, -1], objective, scale=guidance_scale(model, scale, guidance),
                          steps=steps, seed=seed, guidance=guidance_kind(model, guidance), samples=samples)
    candidates = {"model": proposed, "baseline: f = 0": torch.zeros_like(f),
                  "reference: f that made the target": f}
    scored = {name: evaluate_controls(u[:, 0], value, objective, refine) for name, value in candidates.items()}
    metrics = {"simulation": simulation, "control": {name: control_row(s) for name, s in scored.items()}}
    write_json({"num": int(u.shape[0]), "steps": steps, "refine": refine, "energy_weight": energy_weight,
                **metrics}, out / "metrics.json")
    heatmaps({"ground truth": (u[0].float(), f[0].float()), "model simulation": (predicted[0].float(), f[0].float()),
              "model control (re-simulated)": (scored["model"]["u"][0].float(), proposed[0].float())},
             out / "heatmaps.png", title="held-out trajectory 0")
    return metrics
