"""Conditional sampling with a trained PDE model: simulation (u given u0, f) and control (f given u0, target).

Both are DDIM (core) on the cosine VP path with the known entries pinned by core replacement
(:func:`~genforge.core.guidance.inpaint`); for ``clean``-conditioned models the network also sees the known
entries clean and their mask at every step (:func:`conditioned_denoiser`, as trained). Control adds core
objective guidance with the cost J evaluated on x0_hat decoded to physical space
(:func:`~genforge.core.guidance.objective_guidance`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import Denoiser, ModelDenoiser
from genforge.core.guidance import inpaint, objective_guidance
from genforge.core.solvers import ddim
from genforge.domains.pde.control import ControlObjective, evaluate_controls
from genforge.domains.pde.model import PROCESS, PDEModel


def conditioned_denoiser(model: PDEModel, task: str, y: Tensor) -> Denoiser:
    """The model conditioned on the known entries of ``y`` ``[B, C, *shape]`` for ``task``, x0_hat = y there.

    ``clean`` models get x_t with the known entries set to y and the mask as input channels; ``replace``
    models are unconditional and rely on replacement alone.
    """
    mask = model.codec.known(task)
    if not model.clean_conditioning:
        return inpaint(model.denoiser(), mask, y)
    net, cond = model.net, mask.to(y.dtype).expand_as(y)

    def clamped(x_t: Tensor, t: Tensor, _: object) -> Tensor:
        return net(torch.where(mask, y.to(x_t.dtype), x_t), t, cond.to(x_t.dtype))

    return inpaint(ModelDenoiser(clamped, PROCESS), mask, y)


def _draw(model: PDEModel, denoiser: Denoiser, batch: int, steps: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    x_init = PROCESS.prior((batch, model.codec.channels, *model.codec.shape), generator)
    return ddim(denoiser, x_init, grids.uniform(steps), generator=generator)


@torch.no_grad()
def simulate(model: PDEModel, u0: Tensor, f: Tensor, *, steps: int = 50, seed: int = 0) -> Tensor:
    """Predicted trajectories ``[B, 81, 120]`` given u0 ``[B, 120]`` and f ``[B, 80, 120]`` (steps = NFE)."""
    codec = model.codec
    y = codec.condition(u0.float(), f.float())
    denoiser = conditioned_denoiser(model, "simulate", y)
    u, _ = codec.decode(_draw(model, denoiser, u0.shape[0], steps, seed))
    return torch.cat([u0.to(u).unsqueeze(1), u[:, 1:]], dim=1)


def beta_schedule(t: Tensor) -> Tensor:
    """WDNO's guidance weight (``J_scheduler cosine``) in core's score units: beta(t) / sigma(t), ``[B]``.

    beta(t) = 1 - alpha(t)^2 / alpha(t - 1/1000)^2 is the per-step variance of the 1000-step cosine grid
    (clipped to 0.999); WDNO adds ``w beta grad_{x0} J`` to eps_hat, which is a score shift of
    ``-w beta / sigma grad_{x0} J``. Large at high noise, ~1e-5 near the data.
    """
    t = t.double()
    alpha, sigma, _, _ = PROCESS.coefficients(t, t)
    alpha_prev, _, _, _ = PROCESS.coefficients((t - 1e-3).clamp_min(0.0), t)
    beta = (1.0 - alpha.square() / alpha_prev.square().clamp_min(1e-12)).clamp(0.0, 0.999)
    return (beta / sigma.clamp_min(1e-6)).float()


GUIDANCE = ("wdno", "jacobian")
"""``wdno``: grad_{x0} J at x0_hat with :func:`beta_schedule` (WDNO / DiffPhyCon code); ``jacobian``: DPS,
grad_{x_t} J(x0_hat(x_t)) through the network, constant gamma."""


def control(model: PDEModel, u0: Tensor, target: Tensor, objective: ControlObjective, *, scale: float,
            steps: int = 50, seed: int = 0, guidance: str = "wdno", samples: int = 1) -> tuple[Tensor, Tensor]:
    """Controls steering u0 ``[B, 120]`` towards ``target`` ``[B, 120]`` at T, by guided sampling.

    ``scale`` is the guidance strength (w of WDNO's ``eps += w beta(t) grad J`` for ``guidance="wdno"``,
    gamma of ``score -= gamma grad_{x_t} J`` for ``"jacobian"``); steps = NFE. ``samples`` > 1 draws that
    many controls per pair and keeps the one with the lowest J re-simulated by the coarse solver
    (121 points, adaptive steps): sample-and-select, which uses the solver at inference.

    Returns:
        (f ``[B, 80, 120]``, the model's own trajectory u ``[B, 81, 120]`` for that f).
    """
    if guidance not in GUIDANCE:
        raise ValueError(f"guidance must be one of {GUIDANCE}, got {guidance!r}")
    if samples > 1:
        return _best_of(model, u0, target, objective, scale=scale, steps=steps, seed=seed, guidance=guidance,
                        samples=samples)
    codec = model.codec
    y = codec.condition(u0.float(), u_final=target.float())

    def cost(x0: Tensor) -> Tensor:
        u, f = codec.decode(x0)
        return objective(u[:, -1], f)

    wdno = guidance == "wdno"
    guided = objective_guidance(conditioned_denoiser(model, "control", y), cost, scale, jacobian=not wdno,
                                schedule=beta_schedule if wdno else None)
    denoiser = inpaint(guided, codec.known("control"), y)
    with torch.no_grad():
        x = _draw(model, denoiser, u0.shape[0], steps, seed)
    u, f = codec.decode(x)
    return f, u


def _best_of(model: PDEModel, u0: Tensor, target: Tensor, objective: ControlObjective, *, scale: float, steps: int,
             seed: int, guidance: str, samples: int) -> tuple[Tensor, Tensor]:
    """:func:`control` with ``samples`` draws per pair, the lowest coarse-solver J kept (see there)."""
    batch = u0.shape[0]
    repeated = ControlObjective(objective.target.repeat(samples, 1), objective.energy_weight)
    f, u = control(model, u0.repeat(samples, 1), target.repeat(samples, 1), repeated, scale=scale, steps=steps,
                   seed=seed, guidance=guidance)
    cost = evaluate_controls(u0.repeat(samples, 1), f, repeated, 1)["J"].view(samples, batch)
    best = cost.argmin(0) * batch + torch.arange(batch)
    return f[best], u[best]
