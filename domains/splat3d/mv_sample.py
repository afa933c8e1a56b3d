"""Novel views (and, for the splat models, the 3D Gaussian scene) from one context view.

* ``splat``: DDIM (core solver) on the target views with classifier-free guidance on the context view
  (core ``cfg``; the null condition drops the context image). The solver's x0 estimate at each step is the
  render of that step's Gaussians; the returned scene is the conditional branch's Gaussians at the last
  evaluated step, and the returned views are its renders, so every sample is an explicit scene.
* ``regression``: one forward pass (the context view's Gaussians).
* ``pixel``: DDIM + CFG in pixel space; no scene.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import Denoiser, ModelDenoiser
from genforge.core.guidance import cfg as guided
from genforge.core.processes.gaussian import GaussianPath
from genforge.core.solvers import ddim
from genforge.domains.splat3d.multiview import MultiviewModel, SplatBatch, ViewCond


@dataclass
class MultiviewSample:
    """Target views ``[B, T, 3, H, W]`` in [0, 1] and, except for the pixel model, their Gaussians."""

    views: Tensor
    splats: SplatBatch | None


def guided_denoiser(model: MultiviewModel, process: GaussianPath, cond: ViewCond, scale: float) -> Denoiser:
    """The model as an x0-predicting denoiser, with classifier-free guidance of weight ``scale`` (1 = off)."""
    denoiser = ModelDenoiser(model, process, prediction="x0", cond=cond)
    return denoiser if scale == 1.0 else guided(denoiser, scale, null_cond=cond.dropped())


@torch.no_grad()
def sample_views(model: MultiviewModel, process: GaussianPath, cond: ViewCond, *, steps: int, scale: float,
                 generator: torch.Generator) -> MultiviewSample:
    """Sample the target views of ``cond`` (see the module docstring); seeded by ``generator``."""
    if model.cfg.kind == "regression":
        t = torch.zeros(cond.context.shape[0])
        splats = model.gaussians(None, t, cond)
        return MultiviewSample(model.render(splats, cond.targets), splats)
    b, size = cond.context.shape[0], model.cfg.size
    x_init = process.prior((b, cond.targets.shape[1], 3, size, size), generator)
    trace: list[tuple[float, Tensor]] = []

    def remember(i: int, t: float, x: Tensor, x0: Tensor) -> None:
        trace[:] = [(t, x)]

    x0 = ddim(guided_denoiser(model, process, cond, scale), x_init, grids.uniform(steps), callback=remember)
    if model.cfg.kind == "pixel":
        return MultiviewSample(((x0 + 1) / 2).clamp(0, 1), None)
    t_last, x_last = trace[0]
    splats = model.gaussians(x_last, torch.full((b,), t_last), cond)
    return MultiviewSample(model.render(splats, cond.targets), splats)
