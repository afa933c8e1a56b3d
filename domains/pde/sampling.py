"""Conditional sampling with a trained PDE model: simulation (u given u0, f) and control (f given u0, target).

Both are DDIM (core) on the cosine VP path with the known entries pinned by core replacement
(:func:`~genforge.core.guidance.inpaint`); control adds core objective guidance with the cost J evaluated
on x0_hat decoded to physical space (:func:`~genforge.core.guidance.objective_guidance`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import Denoiser
from genforge.core.guidance import inpaint, objective_guidance
from genforge.core.solvers import ddim
from genforge.domains.pde.control import ControlObjective
from genforge.domains.pde.model import PROCESS, PDEModel


def _draw(model: PDEModel, denoiser: Denoiser, batch: int, steps: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    x_init = PROCESS.prior((batch, model.codec.channels, *model.codec.shape), generator)
    return ddim(denoiser, x_init, grids.uniform(steps), generator=generator)


@torch.no_grad()
def simulate(model: PDEModel, u0: Tensor, f: Tensor, *, steps: int = 50, seed: int = 0) -> Tensor:
    """Predicted trajectories ``[B, 81, 120]`` given u0 ``[B, 120]`` and f ``[B, 80, 120]`` (steps = NFE)."""
    codec = model.codec
    y = codec.condition(u0.float(), f.float())
    denoiser = inpaint(model.denoiser(), codec.known("simulate"), y)
    u, _ = codec.decode(_draw(model, denoiser, u0.shape[0], steps, seed))
    return torch.cat([u0.to(u).unsqueeze(1), u[:, 1:]], dim=1)


def control(model: PDEModel, u0: Tensor, target: Tensor, objective: ControlObjective, *, scale: float,
            steps: int = 50, seed: int = 0) -> tuple[Tensor, Tensor]:
    """Controls steering u0 ``[B, 120]`` towards ``target`` ``[B, 120]`` at T, by guided sampling.

    ``scale`` is the guidance strength gamma of ``score -= gamma grad J(decode(x0_hat))``; steps = NFE.

    Returns:
        (f ``[B, 80, 120]``, the model's own trajectory u ``[B, 81, 120]`` for that f).
    """
    codec = model.codec
    y = codec.condition(u0.float(), u_final=target.float())

    def cost(x0: Tensor) -> Tensor:
        u, f = codec.decode(x0)
        return objective(u[:, -1], f)

    guided = objective_guidance(model.denoiser(), cost, scale)
    denoiser = inpaint(guided, codec.known("control"), y)
    with torch.no_grad():
        x = _draw(model, denoiser, u0.shape[0], steps, seed)
    u, f = codec.decode(x)
    return f, u
