"""``splat3d.multiview``: train the multiview model (``splat`` diffusion, ``regression`` or ``pixel`` baseline).

Training (core Trainer) on procedural objects: each step draws objects, a context view and ``targets``
target views per object. ``splat``: x0 loss on the renders of the predicted Gaussians into the noisy target
views and the context view (the context term only where the context was kept), the context dropped with
probability ``p_uncond`` for classifier-free guidance. ``pixel``: x0 loss on the predicted target views.
``regression``: the renders of the context view's Gaussians into context and targets, no noise.

After training: evaluation on held-out objects (:mod:`.mv_report`), ``metrics.json``, galleries, a turntable
GIF and .ply scenes in the run folder; with ``export`` set, the slim checkpoint + JSON card.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from genforge.core.config import dump_task_config, register_task
from genforge.core.processes.gaussian import GaussianPath, VPCosine
from genforge.core.train import TrainConfig, Trainer
from genforge.domains.splat3d.multiview import MultiviewConfig, MultiviewModel
from genforge.domains.splat3d.mv_data import MultiviewDataConfig, random_example, training_objects

TASK = "splat3d.multiview"


@dataclass(frozen=True)
class MultiviewTaskConfig:
    """Recipe of one multiview model.

    Args:
        model: the network, its Gaussian head and its kind.
        data: objects, views and targets per example.
        p_uncond: probability of dropping the context view in training (CFG; diffusion kinds).
        context_weight: weight of the context-view render loss (splat kinds).
        sample_steps: DDIM steps.
        guidance: CFG scale w (1 = conditional only).
        consistency_objects: held-out objects used for the re-render agreement (a scene fit each).
        export: write the slim checkpoint here (``<name>.pt`` + ``<name>.json``); None to skip.
        train: the core trainer settings.
    """

    model: MultiviewConfig = field(default_factory=MultiviewConfig)
    data: MultiviewDataConfig = field(default_factory=MultiviewDataConfig)
    p_uncond: float = 0.1
    context_weight: float = 1.0
    sample_steps: int = 20
    guidance: float = 2.0
    consistency_objects: int = 8
    export: Path | None = None
    train: TrainConfig = field(default_factory=TrainConfig)


def process_of(cfg: MultiviewTaskConfig) -> GaussianPath:
    """The Gaussian path of the diffusion kinds (VP cosine, x0 prediction)."""
    return VPCosine(prediction="x0")


def build_model(cfg: MultiviewTaskConfig) -> MultiviewModel:
    """The recipe's model, initialised from ``cfg.train.seed``."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        return MultiviewModel(cfg.model)


def make_loss(cfg: MultiviewTaskConfig):
    """``loss_fn(model, (images, viewmats), generator) -> (loss, {"psnr_targets": dB})``."""
    kind, process = cfg.model.kind, process_of(cfg)
    p_uncond = 0.0 if kind == "regression" else cfg.p_uncond

    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator
                ) -> tuple[Tensor, dict[str, Tensor]]:
        images, viewmats = batch
        example = random_example(images, viewmats, cfg.data.targets, cfg.model.radius, p_uncond, generator)
        b = example.x0.shape[0]
        if kind == "regression":
            t = torch.zeros(b, device=images.device)
            x_t = None
        else:
            t = process.sample_time(b, generator, device=images.device)
            x_t = process.corrupt(example.x0, t, process.sample_noise(example.x0, generator))
        if kind == "pixel":
            target_error = (model(x_t, t, example.cond) - example.x0).square().mean(dim=(2, 3, 4))
            context_error = torch.zeros(b, device=images.device)
        else:
            pred = model(x_t, t, example.cond, with_context=True)
            target_error = (pred[:, 1:] - example.x0).square().mean(dim=(2, 3, 4))
            keep = example.cond.keep.to(pred)
            context_error = keep * (pred[:, 0] - example.context).square().mean(dim=(1, 2, 3))
        loss = target_error.mean() + cfg.context_weight * context_error.mean()
        mse01 = target_error.mean().detach() / 4
        return loss, {"psnr_targets": -10 * torch.log10(mse01)}

    return loss_fn


@register_task(TASK)
def run_multiview(cfg: MultiviewTaskConfig, *, resume: bool = False) -> dict:
    """Train, evaluate on held-out objects, write metrics.json, galleries, GIF, .ply (and the export)."""
    from genforge.domains.splat3d.mv_report import export_run, report_run

    torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", "1"))))
    objects = training_objects(cfg.data)
    model = build_model(cfg)
    trainer = Trainer(model, make_loss(cfg), (objects.images, objects.viewmats), cfg.train,
                      config_dict=dump_task_config(TASK, cfg))
    trained = trainer.fit(resume=resume)
    if trained is None:
        return {}
    assert isinstance(trained, MultiviewModel)
    metrics = report_run(trained, cfg, Path(cfg.train.out_dir), steps=trainer.step)
    if cfg.export is not None:
        export_run(Path(cfg.train.out_dir), cfg.export, metrics)
    return metrics
