"""Metrics of single-view novel-view synthesis: PSNR / SSIM vs the true views, and multi-view consistency.

Multi-view consistency (re-render agreement): one Gaussian scene per object is fitted jointly to the context
view and the predicted target views (all batched, Adam on L2, same budget for every method), then
re-rendered into those cameras; the PSNR of the re-renders against the views they were fitted to measures
how well a single 3D scene explains the whole set. Views that disagree geometrically cannot all be
reproduced, so the score drops; the true views give the reference.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genforge.core.metrics.image import psnr, ssim
from genforge.core.render import rasterize


def view_scores(views: Tensor, truth: Tensor) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of predicted views ``[B, T, 3, H, W]`` vs the true ones, in [0, 1]."""
    pred, true = views.flatten(0, 1).clamp(0, 1), truth.flatten(0, 1)
    return {"psnr": float(psnr(pred, true).mean()), "ssim": float(ssim(pred, true).mean())}


def consistency_psnr(views: Tensor, viewmats: Tensor, Ks: Tensor, *, num_gaussians: int = 768, steps: int = 100,
                     lr: float = 0.03, extent: float = 1.2, generator: torch.Generator) -> float:
    """Re-render agreement (see module): mean PSNR (dB) of a jointly fitted scene vs ``views [B, V, 3, H, W]``
    in [0, 1] seen by cameras ``viewmats [B, V, 4, 4]`` (intrinsics ``Ks [3, 3]``); the scene starts as
    ``num_gaussians`` grey Gaussians uniform in the cube of half-width ``extent`` around the origin."""
    b, v, _, size, _ = views.shape
    shape = (b, num_gaussians)
    means = ((torch.rand(*shape, 3, generator=generator) * 2 - 1) * extent).requires_grad_()
    log_scales = torch.full((*shape, 3), math.log(0.04), requires_grad=True)
    quats = torch.zeros(*shape, 4)
    quats[..., 0] = 1.0
    quats.requires_grad_()
    opacity_logits = torch.zeros(shape, requires_grad=True)
    colour_logits = torch.zeros(*shape, 3, requires_grad=True)
    optimiser = torch.optim.Adam([{"params": [means], "lr": 0.2 * lr}, {"params": [quats, log_scales], "lr": lr},
                                  {"params": [opacity_logits, colour_logits], "lr": 2 * lr}])
    Ks = Ks.expand(b, v, 3, 3)
    background = torch.ones(3)

    def render() -> Tensor:
        out = rasterize(means, quats, log_scales.exp(), torch.sigmoid(opacity_logits), torch.sigmoid(colour_logits),
                        viewmats, Ks, size, size, background=background, backend="torch")
        return out.image.reshape(b, v, 3, size, size)

    for _ in range(steps):
        optimiser.zero_grad(set_to_none=True)
        (render() - views).square().mean().backward()
        optimiser.step()
    with torch.no_grad():
        return float(psnr(render().flatten(0, 1).clamp(0, 1), views.flatten(0, 1)).mean())
