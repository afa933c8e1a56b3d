"""Trajectory tasks for ``genforge train``: GeoTDM (forecasting or generation) and the two trained baselines.

Each run: data (cached simulation) -> core Trainer -> EMA weights -> evaluation on held-out windows against
the constant-velocity baseline -> ``metrics.json`` and ``model.pt`` (weights + resolved recipe, loadable by
:func:`load_model`) in ``train.out_dir``.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from genforge.core.config import dump_task_config, register_task, task_from_dict
from genforge.core.errors import CheckpointError, ConfigError
from genforge.core.processes import CoMFreeGaussian, VPLinear
from genforge.core.train import TrainConfig, Trainer
from genforge.domains.trajectories.baselines import BaselineConfig, EGNNForecaster, TrajTransformer
from genforge.domains.trajectories.data import (
    TrajectorySet,
    eval_windows,
    md_sets,
    nbody_sets,
    one_hot_species,
    window_batches,
)
from genforge.domains.trajectories.diffusion import (
    Preconditioned,
    forecast_loss,
    generation_loss,
    regression_loss,
    sample_forecasts,
)
from genforge.domains.trajectories.metrics import constant_velocity, forecast_metrics
from genforge.domains.trajectories.model import GeoTDM, GeoTDMConfig, TrajCondition

MODEL_FILE = "model.pt"


@dataclass(frozen=True)
class TrajConfig:
    """Recipe of a trajectory run (shared by the GeoTDM and baseline tasks).

    Args:
        dataset: ``nbody`` (charged 5-body) or ``md`` (xTB Langevin runs of ``molecule``).
        num_train: training systems (nbody).
        num_val: held-out systems (nbody).
        data_seed: simulation seed (held-out data use the next seed / the last MD run).
        molecule: MD molecule name or SMILES.
        md_runs: MD runs (the last ``md_heldout_runs`` are held out).
        md_heldout_runs: MD runs held out for evaluation (their windows, every ``eval_stride`` frames).
        md_ensemble: ``langevin`` (500 K thermostat throughout, stochastic) or ``nve`` (velocity Verlet after the
            Langevin equilibration: deterministic given the state, like MD17).
        md_equilibration_steps: Langevin steps (0.5 fs) before the saved part of each MD run.
        mode: ``forecast`` (condition on ``cond_frames``) or ``generate`` (whole windows; GeoTDM and the
            transformer).
        cond_frames: observed frames Tc.
        future_frames: forecast frames Tf (generate mode: frames of a generated trajectory).
        hidden: invariant feature width (all models).
        layers: denoiser blocks / EGNN layers / transformer blocks.
        prior_layers: blocks of GeoTDM's learnable prior (0 = fixed CoM prior).
        time_dim: sinusoidal embedding width.
        prior_weight: weight of the optional direct prior loss (0 = the paper's objective).
        sigma_data: residual scale of the diffusion models' preconditioning (data units).
        loss_weighting: ``uniform`` (x0 MSE) or ``edm`` (x0 MSE times
            :func:`~genforge.domains.trajectories.diffusion.noise_level_weight`; diffusion models).
        velocity_gate: EGNN baseline only: learnt invariant scale of the velocity in its starting extrapolation
            (:class:`~genforge.domains.trajectories.baselines.EGNNForecaster`).
        time_reversal: train on windows played backwards half of the time (augmentation; valid for equilibrium
            MD, whose position paths are reversible in distribution).
        sample_steps: solver steps at evaluation.
        solver: a name in ``core.solvers.SOLVERS`` (``ancestral`` = DDPM, the paper's sampler; ``ddim``...).
        num_samples: K forecasts per system for min-ADE / min-FDE.
        eval_systems: held-out windows evaluated.
        eval_stride: frames between held-out windows (None = one window per system, from frame 0).
        train: core trainer settings.
    """

    dataset: Literal["nbody", "md"] = "nbody"
    num_train: int = 3000
    num_val: int = 200
    data_seed: int = 43
    molecule: str = "ethanol"
    md_runs: int = 4
    md_heldout_runs: int = 1
    md_ensemble: Literal["langevin", "nve"] = "langevin"
    md_equilibration_steps: int = 0
    mode: Literal["forecast", "generate"] = "forecast"
    cond_frames: int = 10
    future_frames: int = 20
    hidden: int = 48
    layers: int = 4
    prior_layers: int = 2
    time_dim: int = 32
    prior_weight: float = 0.0
    sigma_data: float = 0.3
    loss_weighting: Literal["uniform", "edm"] = "uniform"
    time_reversal: bool = False
    velocity_gate: bool = False
    sample_steps: int = 100
    solver: str = "ancestral"
    num_samples: int = 5
    eval_systems: int = 200
    eval_stride: int | None = None
    train: TrainConfig = field(default_factory=TrainConfig)


PROCESS = VPLinear(prediction="x0")
"""DDPM's linear schedule in continuous time (beta from 0.1 to 20, GeoTDM's), x0 prediction (see diffusion.py)."""


def load_sets(cfg: TrajConfig) -> tuple[TrajectorySet, TrajectorySet]:
    """(train, held-out) trajectory sets of the recipe."""
    if cfg.dataset == "nbody":
        return nbody_sets(cfg.num_train, cfg.num_val, cfg.data_seed)
    from genforge.datasets.md_trajectories import MDConfig

    md = MDConfig(molecule=cfg.molecule, ensemble=cfg.md_ensemble, equilibration_steps=cfg.md_equilibration_steps)
    return md_sets(md, cfg.md_runs, cfg.data_seed, cfg.md_heldout_runs)


def build_model(kind: str, cfg: TrajConfig, node_dim: int) -> nn.Module:
    """The network of task ``kind`` (``geotdm``, ``egnn``, ``transformer``) sized by the recipe."""
    cond = cfg.cond_frames if cfg.mode == "forecast" else 0
    if kind == "egnn" and not cond:
        raise ConfigError("the EGNN regressor only forecasts; use mode: forecast", field="mode")
    if kind == "geotdm":
        net: nn.Module = GeoTDM(GeoTDMConfig(node_dim=node_dim, hidden=cfg.hidden, layers=cfg.layers,
                                             prior_layers=cfg.prior_layers, cond_frames=cond,
                                             future_frames=cfg.future_frames, time_dim=cfg.time_dim))
        return Preconditioned(net, PROCESS, cfg.sigma_data)
    base = BaselineConfig(node_dim=node_dim, hidden=cfg.hidden, layers=cfg.layers, cond_frames=cond,
                          future_frames=cfg.future_frames, time_dim=cfg.time_dim, velocity_gate=cfg.velocity_gate)
    if kind == "egnn":
        return EGNNForecaster(base)
    return Preconditioned(TrajTransformer(base), PROCESS, cfg.sigma_data)


def _loss(kind: str, cfg: TrajConfig):  # type: ignore[no-untyped-def]
    if kind == "egnn":
        return regression_loss(cfg.cond_frames)
    if cfg.mode == "generate":
        return generation_loss(CoMFreeGaussian(PROCESS), augment=kind == "transformer",
                               sigma_data=cfg.sigma_data if cfg.loss_weighting == "edm" else None)
    return forecast_loss(PROCESS, cfg.cond_frames, prior_weight=cfg.prior_weight, augment=kind == "transformer",
                         sigma_data=cfg.sigma_data if cfg.loss_weighting == "edm" else None)


def forecast(model: nn.Module, kind: str, cond: TrajCondition, cfg: TrajConfig, seed: int) -> Tensor:
    """``[B, K, Tf, N, 3]`` forecasts (K = 1 for the deterministic EGNN)."""
    if kind == "egnn":
        with torch.no_grad():
            return model(cond.to(next(model.parameters()).device))[:, None].cpu()
    return sample_forecasts(model, PROCESS, cond, cfg.num_samples, steps=cfg.sample_steps, solver=cfg.solver,
                            seed=seed)


def evaluate_forecasts(model: nn.Module, kind: str, cfg: TrajConfig, held_out: TrajectorySet,
                       seed: int) -> dict[str, dict[str, float]]:
    """Metrics of the model and of constant velocity on the held-out windows."""
    span = cfg.cond_frames + cfg.future_frames
    windows, nodes = eval_windows(held_out, span, cfg.eval_stride, cfg.eval_systems)
    x_cond, target = windows[:, :cfg.cond_frames], windows[:, cfg.cond_frames:]
    start = time.perf_counter()
    samples = forecast(model, kind, TrajCondition(nodes, x_cond), cfg, seed)
    seconds = time.perf_counter() - start
    model_metrics = {**forecast_metrics(samples, target), "sampling_seconds": seconds}
    metrics = {kind: model_metrics,
               "constant_velocity": forecast_metrics(constant_velocity(x_cond, cfg.future_frames)[:, None], target)}
    if samples.shape[1] > 1:  # the mean of the K samples, a point estimate of the conditional mean
        metrics[f"{kind}_sample_mean"] = forecast_metrics(samples.mean(1, keepdim=True), target)
    if kind == "geotdm":  # the learnt equivariant prior mean alone, a deterministic forecast
        with torch.no_grad():
            prior = model.prior(TrajCondition(nodes, x_cond).to(next(model.parameters()).device)).cpu()
        metrics["geotdm_prior_mean"] = forecast_metrics(prior[:, None], target)
    return metrics


def save_model(model: nn.Module, kind: str, cfg: TrajConfig, species: Tensor, path: Path,
               extra: dict[str, Any] | None = None) -> None:
    """Weights (float32), recipe and the training particles' ``species [N]``; temp file then rename."""
    payload = {"kind": kind, "species": species.tolist(), "config": dump_task_config(f"trajectories.{kind}", cfg),
               "state": {k: v.float() for k, v in model.state_dict().items()}, "extra": extra or {}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)


@dataclass(frozen=True)
class LoadedModel:
    """A trained trajectory model: network (eval mode), task kind, recipe, training ``species [N]``."""

    model: nn.Module
    kind: str
    cfg: TrajConfig
    species: Tensor


def load_model(path: str | Path) -> LoadedModel:
    """The model of a :func:`save_model` file (``model.pt``, the shipped checkpoints)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint not found", source=path)
    try:
        payload = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as err:  # any unreadable file is reported the same way
        raise CheckpointError(f"cannot read checkpoint: {err}", source=path) from err
    if not isinstance(payload, dict) or not {"kind", "species", "config", "state"} <= payload.keys():
        raise CheckpointError("not a trajectory model file (expected kind, species, config, state; "
                              "train with `genforge traj train` and pass its model.pt)", source=path)
    _, cfg, _ = task_from_dict(payload["config"], str(path))
    species = torch.tensor(payload["species"], dtype=torch.long)
    model = build_model(payload["kind"], cfg, node_features(cfg, species, torch.zeros(len(species))).shape[-1])
    try:
        model.load_state_dict(payload["state"])
    except RuntimeError as err:
        raise CheckpointError(f"weights do not fit the recipe: {err}", source=path) from err
    return LoadedModel(model.eval(), payload["kind"], cfg, species)


def node_features(cfg: TrajConfig, species: Tensor, charges: Tensor) -> Tensor:
    """Per-particle features ``[N, F]`` the recipe's models use: charges (N-body) or one-hot elements (MD)."""
    return charges[:, None].float() if cfg.dataset == "nbody" else one_hot_species(species)


def print_metrics(metrics: dict[str, dict[str, float]], title: str) -> None:
    """A rich table of forecasting metrics."""
    table = Table(title=title)
    table.add_column("model")
    for column in ("ade", "fde", "min_ade", "min_fde"):
        table.add_column(column, justify="right")
    for name, row in metrics.items():
        table.add_row(name, *(f"{row[c]:.4f}" for c in ("ade", "fde", "min_ade", "min_fde")))
    Console().print(table)


def run(kind: str, cfg: TrajConfig, *, resume: bool = False) -> dict[str, Any]:
    """Train model ``kind`` on the recipe's data, evaluate it, write metrics.json and model.pt."""
    train_set, held_out = load_sets(cfg)
    node_dim = train_set.node_features.shape[-1]
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        model = build_model(kind, cfg, node_dim)
    span = cfg.cond_frames + cfg.future_frames if cfg.mode == "forecast" else cfg.future_frames
    batches = window_batches(train_set, span, cfg.train.batch_size, time_reversal=cfg.time_reversal)
    trainer = Trainer(model, _loss(kind, cfg), batches, cfg.train,
                      config_dict=dump_task_config(f"trajectories.{kind}", cfg))
    start = time.perf_counter()
    trained = trainer.fit(resume=resume)
    train_seconds = time.perf_counter() - start
    if trained is None:
        return {}
    model = trained
    out_dir = Path(cfg.train.out_dir)
    result: dict[str, Any] = {"task": f"trajectories.{kind}", "dataset": cfg.dataset, "steps": trainer.step,
                              "train_seconds": train_seconds,
                              "parameters": sum(p.numel() for p in model.parameters())}
    if cfg.mode == "forecast":
        metrics = evaluate_forecasts(model, kind, cfg, held_out, cfg.train.seed + 1)
        result["metrics"] = metrics
        print_metrics(metrics, f"{cfg.dataset} forecasting ({cfg.cond_frames} -> {cfg.future_frames} frames)")
    save_model(model, kind, cfg, train_set.species, out_dir / MODEL_FILE, {"metrics": result.get("metrics", {})})
    tmp = out_dir / ".metrics.json.tmp"
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, out_dir / "metrics.json")
    return result


@register_task("trajectories.geotdm")
def run_geotdm(cfg: TrajConfig, *, resume: bool = False) -> dict[str, Any]:
    """GeoTDM: forecasting with the learnable equivariant prior, or unconditional generation."""
    return run("geotdm", cfg, resume=resume)


@register_task("trajectories.egnn")
def run_egnn(cfg: TrajConfig, *, resume: bool = False) -> dict[str, Any]:
    """Baseline: one-shot EGNN regression forecaster."""
    return run("egnn", cfg, resume=resume)


@register_task("trajectories.transformer")
def run_transformer(cfg: TrajConfig, *, resume: bool = False) -> dict[str, Any]:
    """Baseline: non-equivariant transformer diffusion with rotation augmentation."""
    return run("transformer", cfg, resume=resume)
