"""``medical.prior``: train the 2-D diffusion prior on axial slices of procedural volumes (core Trainer).

The volumes are a mix of CT-like body phantoms (:mod:`genforge.domains.medical.body_phantoms`, a share
``body_fraction``) and Shepp-Logan / textured-ellipsoid phantoms; ``init`` starts from a trained checkpoint's
weights (fine-tuning).

After training, the EMA model is evaluated on held-out slices (Tweedie denoising PSNR at image-space noise
levels vs the noisy input, the trivial baseline) and sampled (DDIM, gallery PNG); with ``export`` set, the
slim checkpoint and its JSON card are written there (the shipped ``prior_phantom64.pt`` / ``prior_body64.pt``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from rich.console import Console
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.atomic import write_json
from genforge.core.config import dump_task_config, register_task
from genforge.core.metrics.image import psnr
from genforge.core.processes.gaussian import GaussianPath
from genforge.core.solvers import ddim
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.checkpoint import latest
from genforge.datasets.phantoms import phantom_volumes
from genforge.domains.medical.body_phantoms import body_volumes
from genforge.domains.medical.plots import save_image_grid
from genforge.domains.medical.prior import PROCESSES, NetConfig, SlicePrior, load_prior

VALIDATION_SEED = 1
"""Phantom seed of the held-out slices (training volumes use ``train.seed``; benchmarks use 2)."""


@dataclass(frozen=True)
class PriorTaskConfig:
    """Recipe of the slice prior.

    Args:
        size: slice size S (volumes are S^3).
        num_volumes: procedural training volumes.
        body_fraction: share of CT-like body phantoms among them (the rest alternate Shepp-Logan variants /
            textured ellipsoids); the held-out volumes use the same mix.
        init: start from this ``medical.prior`` checkpoint's weights (same ``net``); None: random init.
        val_volumes: held-out volumes for the denoising metric.
        process: ``vp`` (VP linear, v-prediction) or ``ve`` (VE, x0-prediction).
        net: the U-Net.
        noise_levels: image-space noise std of the denoising evaluation.
        num_samples: samples in the gallery.
        sample_steps: DDIM steps of the gallery.
        export: write the slim checkpoint here (``<name>.pt`` + ``<name>.json``); None to skip.
        train: the core trainer settings.
    """

    size: int = 64
    num_volumes: int = 96
    body_fraction: float = 0.0
    init: Path | None = None
    val_volumes: int = 4
    process: Literal["vp", "ve"] = "vp"
    net: NetConfig = field(default_factory=NetConfig)
    noise_levels: tuple[float, ...] = (0.05, 0.1, 0.2)
    num_samples: int = 16
    sample_steps: int = 50
    export: Path | None = None
    train: TrainConfig = field(default_factory=TrainConfig)


def training_volumes(count: int, size: int, body_fraction: float, seed: int) -> Tensor:
    """``count`` volumes ``[count, S, S, S]``: ``round(body_fraction * count)`` body phantoms, then phantoms."""
    shape = (size,) * 3
    bodies = round(body_fraction * count)
    parts = [body_volumes(bodies, shape, seed)] if bodies else []
    if count > bodies:
        parts.append(phantom_volumes(count - bodies, shape, seed))
    return torch.cat(parts)


def axial_slices(volumes: Tensor) -> Tensor:
    """``[N, D, H, W]`` -> slices ``[N * D, 1, H, W]``."""
    return volumes.flatten(0, 1).unsqueeze(1)


def _loss_fn(process: GaussianPath):
    def loss_fn(model: nn.Module, z0: Tensor, generator: torch.Generator) -> Tensor:
        t = process.sample_time(z0.shape[0], generator, device=z0.device)
        noise = process.sample_noise(z0, generator)
        return process.loss(model(process.corrupt(z0, t, noise), t, None), z0, noise, t).mean()

    return loss_fn


@torch.no_grad()
def denoising_scores(prior: SlicePrior, slices: Tensor, noise_levels: tuple[float, ...],
                     seed: int) -> dict[str, dict[str, float]]:
    """Mean PSNR (dB) of Tweedie estimates vs the noisy slices at image-space noise std s.

    The model-space ratio sigma / alpha = 2 s gives t; x_noisy = x + s eps is the trivial baseline.
    """
    generator = torch.Generator().manual_seed(seed)
    scores: dict[str, dict[str, float]] = {}
    z0 = prior.to_model(slices)
    for level in noise_levels:
        ratio = torch.tensor(2.0 * level, dtype=torch.float64)
        t = float(prior.process.t_from_log_snr(-2.0 * torch.log(ratio)))
        tt = torch.full((z0.shape[0],), t)
        noise = torch.randn(z0.shape, generator=generator)
        z_t = prior.process.corrupt(z0, tt, noise)
        x0_hat = prior.to_image(prior.denoiser.x0(z_t, tt)).clamp(0.0, 1.0)
        noisy = slices + level * noise
        scores[f"sigma={level}"] = {"tweedie_psnr": float(psnr(x0_hat, slices).mean()),
                                    "noisy_input_psnr": float(psnr(noisy, slices).mean())}
    return scores


@torch.no_grad()
def draw_slices(prior: SlicePrior, num: int, steps: int, seed: int) -> Tensor:
    """``num`` unconditional slices ``[num, 1, S, S]`` in [0, 1] by DDIM."""
    generator = torch.Generator().manual_seed(seed)
    z = prior.process.prior((num, 1, prior.size, prior.size), generator)
    grid = grids.uniform(steps, t_max=0.999)
    return prior.to_image(ddim(prior.denoiser, z, grid)).clamp(0.0, 1.0)




@register_task("medical.prior")
def run_prior(cfg: PriorTaskConfig, *, resume: bool = False) -> dict:
    """Train the slice prior, evaluate it, write metrics.json + samples.png (and the export)."""
    from genforge.core.train.inference import export_inference, load_trained

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    process = PROCESSES[cfg.process]
    data = SlicePrior.to_model(axial_slices(training_volumes(cfg.num_volumes, cfg.size, cfg.body_fraction,
                                                             cfg.train.seed)))
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        model = cfg.net.build()
    if cfg.init is not None:
        model.load_state_dict(load_prior(cfg.init).model.state_dict())
    trainer = Trainer(model, _loss_fn(process), data, cfg.train, config_dict=dump_task_config("medical.prior", cfg))
    trained = trainer.fit(resume=resume)
    if trained is None:
        return {}
    prior = SlicePrior(trained, process, cfg.size)
    held_out = axial_slices(training_volumes(cfg.val_volumes, cfg.size, cfg.body_fraction, VALIDATION_SEED))
    metrics = {"steps": trainer.step, "denoising": denoising_scores(prior, held_out, cfg.noise_levels, 0)}
    out_dir = Path(cfg.train.out_dir)
    save_image_grid(draw_slices(prior, cfg.num_samples, cfg.sample_steps, 0)[:, 0], out_dir / "samples.png",
                    title=f"DDIM {cfg.sample_steps} steps")
    write_json(metrics, out_dir / "metrics.json")
    Console().print(metrics)
    checkpoint = latest(out_dir)
    if cfg.export is not None and checkpoint is not None:
        export = Path(cfg.export)
        export_inference(load_trained(checkpoint), export, metrics)
        card = {"recipe": dump_task_config("medical.prior", cfg), "steps": trainer.step, "metrics": metrics,
                "parameters": sum(p.numel() for p in model.parameters())}
        write_json(json.loads(json.dumps(card, default=str)), export.with_suffix(".json"))
    return metrics
