"""Per-scene 3DGS fitting: Gaussians optimised on posed images with L1 + SSIM and adaptive density control.

Init: ``hull`` samples points uniformly in the cube ``[-init_extent, init_extent]^3`` and keeps those that
project inside the foreground mask of every training view that sees them (a visual hull from the alpha
channel); ``random`` keeps them all (3DGS's random init for synthetic scenes). Loss:
``(1 - ssim_weight) * L1 + ssim_weight * (1 - SSIM)`` on one random training view per step. Learning rates
follow 3DGS (positions scaled by the scene extent and decayed exponentially); SH degree grows by one every
``sh_increase_every`` steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import torch
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from torch import Tensor

from genforge.core.metrics import psnr, ssim
from genforge.core.render import Cameras, Gaussians, render_gaussians
from genforge.datasets.posed_images import PosedImages
from genforge.domains.splat3d.densify import DensityControl


@dataclass(frozen=True)
class FitConfig:
    """Recipe of one per-scene fit (see configs/splat3d/cpu/fit_lego.yaml for a commented example)."""

    steps: int = 3000
    init: Literal["hull", "random"] = "hull"
    num_init: int = 5000
    init_extent: float = 1.3
    init_opacity: float = 0.1
    sh_degree: int = 3
    sh_increase_every: int = 1000
    lr_means: float = 1.6e-4
    lr_means_final: float = 1.6e-6
    lr_sh_dc: float = 2.5e-3
    lr_sh_rest: float = 1.25e-4
    lr_opacity: float = 0.05
    lr_scales: float = 5e-3
    lr_quats: float = 1e-3
    ssim_weight: float = 0.2
    densify_start: int = 300
    densify_stop: int = 2000
    densify_every: int = 100
    grad_threshold: float = 2e-4
    percent_dense: float = 0.01
    min_opacity: float = 0.005
    max_scale: float = 0.1
    max_gaussians: int = 40000
    opacity_reset_every: int = 0
    holdout_every: int = 8
    background: tuple[float, float, float] = (1.0, 1.0, 1.0)
    tile_size: int = 4
    seed: int = 0


def split_views(views: PosedImages, holdout_every: int) -> tuple[PosedImages, PosedImages]:
    """(train, held-out): every ``holdout_every``-th view (0, k, 2k, ...) is held out (none if 0)."""
    index = torch.arange(len(views))
    held = (index % holdout_every == 0) if holdout_every > 0 else torch.zeros(len(views), dtype=torch.bool)
    return views.subset(index[~held]), views.subset(index[held])


def scene_extent(cameras: Cameras) -> float:
    """3DGS scene scale: 1.1 x the largest distance of a camera centre from their mean."""
    centres = cameras.centres
    return 1.1 * float((centres - centres.mean(0)).norm(dim=-1).max())


def initial_points(views: PosedImages, cfg: FitConfig, generator: torch.Generator) -> Tensor:
    """``[M, 3]`` initial centres (``hull`` or ``random``, see the module docstring)."""
    candidates = (torch.rand(cfg.num_init * (8 if cfg.init == "hull" else 1), 3, generator=generator) * 2 - 1)
    candidates = candidates * cfg.init_extent
    if cfg.init == "random":
        return candidates
    pixels, depth = views.cameras.project(candidates)
    w, h = views.cameras.width, views.cameras.height
    x, y = pixels[..., 0].floor().long(), pixels[..., 1].floor().long()
    seen = (depth > 0) & (x >= 0) & (x < w) & (y >= 0) & (y < h)
    flat = views.alphas[:, 0].reshape(len(views), -1)
    mask = torch.gather(flat, 1, (y.clamp(0, h - 1) * w + x.clamp(0, w - 1))) > 0.5
    inside = (mask | ~seen).all(0) & seen.any(0)
    points = candidates[inside][: cfg.num_init]
    return points if len(points) > 0 else candidates[: cfg.num_init]


def init_gaussians(points: Tensor, cfg: FitConfig) -> Gaussians:
    """Isotropic grey Gaussians at ``points`` with scale = mean distance to the 3 nearest neighbours."""
    dists = torch.cat([torch.cdist(chunk, points).topk(4, largest=False).values[:, 1:]
                       for chunk in points.split(2048)])
    scales = dists.mean(-1).clamp_min(1e-4)
    colours = torch.full_like(points, 0.5)
    return Gaussians.from_points(points, colours, scales, opacity=cfg.init_opacity, sh_degree=cfg.sh_degree)


def make_parameters(gaussians: Gaussians) -> dict[str, Tensor]:
    """Leaf tensors to optimise: the Gaussian fields with the SH split into ``sh_dc`` and ``sh_rest``."""
    fields = gaussians.tensors()
    sh = fields.pop("sh")
    fields.update(sh_dc=sh[:, :1], sh_rest=sh[:, 1:])
    return {k: v.detach().clone().requires_grad_(True) for k, v in fields.items()}


def as_gaussians(params: dict[str, Tensor]) -> Gaussians:
    """The :class:`Gaussians` view of :func:`make_parameters` tensors (differentiable)."""
    return Gaussians(params["means"], params["quats"], params["log_scales"], params["opacity_logits"],
                     torch.cat([params["sh_dc"], params["sh_rest"]], dim=1))


def make_optimizer(params: dict[str, Tensor], cfg: FitConfig, extent: float) -> torch.optim.Adam:
    """Adam with one named group per parameter (3DGS learning rates; positions scaled by the scene extent)."""
    lrs = {"means": cfg.lr_means * extent, "quats": cfg.lr_quats, "log_scales": cfg.lr_scales,
           "opacity_logits": cfg.lr_opacity, "sh_dc": cfg.lr_sh_dc, "sh_rest": cfg.lr_sh_rest}
    return torch.optim.Adam([{"params": [params[name]], "lr": lr, "name": name} for name, lr in lrs.items()],
                            eps=1e-15)


def image_loss(render: Tensor, target: Tensor, ssim_weight: float) -> Tensor:
    """``(1 - w) L1 + w (1 - SSIM)`` averaged over the batch ``[B, 3, H, W]``."""
    l1 = (render - target).abs().mean()
    return (1 - ssim_weight) * l1 + ssim_weight * (1 - ssim(render, target).mean())


def render_views(gaussians: Gaussians, cameras: Cameras, cfg: FitConfig, sh_degree: int | None = None) -> Tensor:
    """Renders ``[V, 3, H, W]`` in [0, 1] of ``cameras`` one at a time (no gradient)."""
    background = torch.tensor(cfg.background)
    with torch.no_grad():
        return torch.cat([render_gaussians(gaussians, cameras[i], background=background, sh_degree=sh_degree,
                                           backend="torch", tile_size=cfg.tile_size).image.clamp(0, 1)
                          for i in range(len(cameras))])


@dataclass
class FitResult:
    """The fitted scene, wall and process-CPU seconds of the optimisation, and the densification events."""

    gaussians: Gaussians
    seconds: float
    cpu_seconds: float
    history: list[dict[str, float]]


def fit_scene(train: PosedImages, cfg: FitConfig, *, progress: bool = True) -> FitResult:
    """Optimise Gaussians on ``train`` for ``cfg.steps`` steps (one random view per step)."""
    generator = torch.Generator().manual_seed(cfg.seed)
    extent = scene_extent(train.cameras)
    params = make_parameters(init_gaussians(initial_points(train, cfg, generator), cfg))
    optimizer = make_optimizer(params, cfg, extent)
    control = DensityControl(params, optimizer)
    background = torch.tensor(cfg.background)
    decay = (cfg.lr_means_final / cfg.lr_means) ** (1.0 / max(1, cfg.steps))
    history: list[dict[str, float]] = []
    start, cpu_start, running = time.perf_counter(), time.process_time(), None
    columns = (TextColumn("fit"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
               TextColumn("PSNR {task.fields[psnr]:.2f} dB  N={task.fields[num]}"), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("fit", total=cfg.steps, psnr=0.0, num=control.num)
        for step in range(1, cfg.steps + 1):
            view = int(torch.randint(len(train), (1,), generator=generator))
            degree = min(cfg.sh_degree, (step - 1) // max(1, cfg.sh_increase_every))
            out = render_gaussians(as_gaussians(params), train.cameras[view], background=background, sh_degree=degree,
                                   backend="torch", tile_size=cfg.tile_size)
            out.means2d.retain_grad()
            target = train.images[view : view + 1]
            loss = image_loss(out.image, target, cfg.ssim_weight)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            value = float(psnr(out.image.detach().clamp(0, 1), target).mean())
            running = value if running is None else 0.95 * running + 0.05 * value
            for group in optimizer.param_groups:
                if group["name"] == "means":
                    group["lr"] *= decay
            if step <= cfg.densify_stop:
                control.observe(out.means2d, out.radii, train.cameras.width, train.cameras.height)
                if step >= cfg.densify_start and step % cfg.densify_every == 0:
                    event = control.step(grad_threshold=cfg.grad_threshold, percent_dense=cfg.percent_dense,
                                         extent=extent, min_opacity=cfg.min_opacity, max_scale=cfg.max_scale,
                                         max_gaussians=cfg.max_gaussians, generator=generator)
                    history.append({"step": step, "psnr": running, **event})
                if cfg.opacity_reset_every and step % cfg.opacity_reset_every == 0:
                    control.reset_opacity()
            bar.update(task, advance=1, psnr=running, num=control.num)
    scene = Gaussians(**{k: v.detach().clone() for k, v in as_gaussians(params).tensors().items()})
    return FitResult(scene, time.perf_counter() - start, time.process_time() - cpu_start, history)


def nearest_view_baseline(train: PosedImages, cameras: Cameras) -> Tensor:
    """For each camera, the training image whose camera centre is closest (re-used as the prediction)."""
    distances = torch.cdist(cameras.centres, train.cameras.centres)
    return train.images[distances.argmin(1)]


def evaluate(gaussians: Gaussians, train: PosedImages, held: PosedImages, cfg: FitConfig) -> dict[str, dict]:
    """Held-out PSNR / SSIM of the fit and of the mean-colour and nearest-training-view baselines."""
    renders = render_views(gaussians, held.cameras, cfg)
    mean_colour = train.images.mean(dim=(0, 2, 3))[None, :, None, None].expand_as(held.images)
    results = {}
    for name, prediction in (("3dgs_fit", renders), ("mean_colour", mean_colour),
                             ("nearest_train_view", nearest_view_baseline(train, held.cameras))):
        results[name] = {"psnr": float(psnr(prediction, held.images).mean()),
                         "ssim": float(ssim(prediction, held.images).mean())}
    return results
