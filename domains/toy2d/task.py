"""The ``toy2d`` task: flow / diffusion on a 2-D toy distribution, end to end.

train (core Trainer) -> sample (core solver on the EMA weights) -> evaluate against held-out data and
trivial baselines -> ``metrics.json`` and ``samples.png`` in the run folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.config import dump_task_config, register_sampler, register_task, task_from_dict
from genforge.core.denoiser import ModelDenoiser
from genforge.core.processes.gaussian import EDM, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant, TrigInterpolant
from genforge.core.solvers import SOLVERS
from genforge.core.streaming import stream_to_npy
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.inference import TrainedWeights, load_into
from genforge.datasets.toy2d import sample_toy2d
from genforge.domains.toy2d.evaluate import gaussian_fit_baseline, sample_scores
from genforge.domains.toy2d.model import TimeMLP
from genforge.domains.toy2d.plots import save_scatter_gallery

PROCESSES: dict[str, GaussianPath] = {
    "linear": LinearInterpolant(),
    "trig": TrigInterpolant(),
    "vp_linear": VPLinear(prediction="eps"),
    "vp_cosine": VPCosine(prediction="v"),
    "edm": EDM(prediction="x0"),
}


@dataclass(frozen=True)
class Toy2dConfig:
    """Recipe of the 2-D demo.

    Args:
        dataset: ``checkerboard``, ``eight_gaussians`` or ``two_moons``.
        num_train: training points drawn once (seed ``train.seed``).
        process: the Gaussian path (``linear`` = flow matching, ``trig``, ``vp_linear``, ``vp_cosine``, ``edm``).
        hidden: width of the residual MLP.
        depth: number of residual blocks.
        solver: any name in ``genforge.core.solvers.SOLVERS``.
        grid: ``uniform``, ``quadratic``, ``karras`` or ``log_snr``.
        steps: solver steps.
        num_samples: samples drawn for evaluation (and as many held-out data points).
        train: the core trainer settings.
    """

    dataset: str = "checkerboard"
    num_train: int = 50_000
    process: Literal["linear", "trig", "vp_linear", "vp_cosine", "edm"] = "linear"
    hidden: int = 128
    depth: int = 3
    solver: str = "heun"
    grid: Literal["uniform", "quadratic", "karras", "log_snr"] = "uniform"
    steps: int = 25
    num_samples: int = 4000
    train: TrainConfig = field(default_factory=TrainConfig)


def _loss_fn(process: GaussianPath):
    def loss_fn(model: nn.Module, x0: Tensor, generator: torch.Generator) -> Tensor:
        t = process.sample_time(x0.shape[0], generator, device=x0.device)
        noise = process.sample_noise(x0, generator)
        return process.loss(model(process.corrupt(x0, t, noise), t, None), x0, noise, t).mean()

    return loss_fn


def make_grid(cfg: Toy2dConfig, process: GaussianPath) -> Tensor:
    """The sampling grid the recipe names."""
    if cfg.grid in ("uniform", "quadratic"):
        return grids.GRIDS[cfg.grid](cfg.steps)
    return grids.GRIDS[cfg.grid](cfg.steps, process)


@torch.no_grad()
def draw_samples(model: nn.Module, cfg: Toy2dConfig, num: int, seed: int) -> Tensor:
    """``num`` samples ``[num, 2]`` from ``model`` with the recipe's solver and grid."""
    if cfg.solver not in SOLVERS:
        raise KeyError(cfg.solver)
    process = PROCESSES[cfg.process]
    generator = torch.Generator().manual_seed(seed)
    denoiser = ModelDenoiser(model, process)
    x_init = process.prior((num, 2), generator)
    return SOLVERS[cfg.solver](denoiser, x_init, make_grid(cfg, process), generator=generator)


def evaluate(model: nn.Module, cfg: Toy2dConfig, out_dir: Path) -> dict[str, dict[str, float]]:
    """Metrics of the model and of trivial baselines vs held-out data; writes metrics.json + samples.png."""
    seed = cfg.train.seed
    train = sample_toy2d(cfg.dataset, cfg.num_train, seed)
    held_out = sample_toy2d(cfg.dataset, cfg.num_samples, seed + 1)
    generator = torch.Generator().manual_seed(seed + 2)
    candidates = {
        f"model ({cfg.solver}, {cfg.steps} steps)": draw_samples(model, cfg, cfg.num_samples, seed + 3),
        "baseline: Gaussian fit": gaussian_fit_baseline(train, cfg.num_samples, generator),
        "baseline: N(0, I) prior": torch.randn(cfg.num_samples, 2, generator=generator),
        "reference: fresh data": sample_toy2d(cfg.dataset, cfg.num_samples, seed + 4),
    }
    metrics = {name: sample_scores(points, held_out, generator) for name, points in candidates.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_scatter_gallery({"held-out data": held_out, **candidates}, out_dir / "samples.png")
    tmp = out_dir / ".metrics.json.tmp"
    tmp.write_text(json.dumps(metrics, indent=2))
    os.replace(tmp, out_dir / "metrics.json")
    return metrics


def print_metrics(metrics: dict[str, dict[str, float]], console: Console) -> None:
    """A rich table: one row per candidate, one column per metric."""
    table = Table(title="2-D sample quality vs held-out data (W2, MMD: lower is better; precision, recall: higher)")
    table.add_column("samples")
    columns = list(next(iter(metrics.values())))
    for column in columns:
        table.add_column(column, justify="right")
    for name, row in metrics.items():
        table.add_row(name, *(f"{row[c]:.4f}" for c in columns))
    console.print(table)


def build_model(cfg: Toy2dConfig) -> TimeMLP:
    """The recipe's network, initialised from ``cfg.train.seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        return TimeMLP(dim=2, hidden=cfg.hidden, depth=cfg.depth)


@register_sampler("toy2d")
def sample_checkpoint(trained: TrainedWeights, *, num: int, seed: int, out: Path, steps: int | None = None,
                      chunk: int = 100_000) -> list[Path]:
    """``samples.npy`` ``[num, 2]`` (streamed in chunks of ``chunk``; chunk k uses seed ``seed + k``) and a
    ``samples.png`` of at most 20,000 points, in ``out``, from a toy2d checkpoint."""
    _, cfg, _ = task_from_dict(trained.config, str(trained.source))
    if steps is not None:
        cfg = replace(cfg, steps=steps)
    model = load_into(build_model(cfg), trained).eval()
    path = stream_to_npy(out / "samples.npy", num, chunk,
                         lambda start, count: draw_samples(model, cfg, count, seed + start // chunk))
    shown = torch.from_numpy(np.load(path, mmap_mode="r")[:20_000].copy())
    save_scatter_gallery({f"{cfg.solver}, {cfg.steps} steps": shown}, out / "samples.png")
    return [path, out / "samples.png"]


@register_task("toy2d")
def run_toy2d(cfg: Toy2dConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train, sample, evaluate; returns the metrics and writes them beside the checkpoints."""
    process = PROCESSES[cfg.process]
    model = build_model(cfg)
    data = sample_toy2d(cfg.dataset, cfg.num_train, cfg.train.seed)
    trainer = Trainer(model, _loss_fn(process), data, cfg.train,
                      config_dict=dump_task_config("toy2d", cfg))
    trained = trainer.fit(resume=resume)
    if trained is None:
        return {}
    metrics = evaluate(trained, cfg, Path(cfg.train.out_dir))
    print_metrics(metrics, Console())
    return metrics
