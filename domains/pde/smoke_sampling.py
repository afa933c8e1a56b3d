"""Conditional sampling with a trained smoke model: simulation (rho given rho0 and the control) and guided
control (the band forces given rho0), reusing the Burgers machinery of :mod:`genforge.domains.pde.sampling`
(DDIM, core replacement of the known entries, core objective guidance on x0_hat in physical space).
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.guidance import inpaint, objective_guidance
from genforge.datasets.smoke import simulate
from genforge.domains.pde.model import PDEModel
from genforge.domains.pde.sampling import GUIDANCE, _draw, beta_schedule, conditioned_denoiser
from genforge.domains.pde.smoke_control import smoke_objective


@torch.no_grad()
def simulate_smoke(model: PDEModel, rho0: Tensor, control: Tensor, *, steps: int = 25,
                   seed: int = 0) -> tuple[Tensor, Tensor]:
    """Predicted (density ``[B, F+1, n, n]``, final target-exit fraction ``[B]``) given rho0 ``[B, n, n]`` and
    the control ``[B, F, 2, n, n]`` (steps = NFE)."""
    codec = model.codec
    y = codec.condition(rho0.float(), control.float())
    density, _, fraction = codec.decode(_draw(model, conditioned_denoiser(model, "simulate", y), rho0.shape[0],
                                              steps, seed))
    return torch.cat([rho0.to(density).unsqueeze(1), density[:, 1:]], dim=1), fraction[:, -1]


def smoke_cost(density: Tensor, control: Tensor, fraction: Tensor, model: PDEModel, energy_weight: float) -> Tensor:
    """J ``[B]`` = -final target fraction + energy_weight * mean band f^2 of a (decoded) trajectory."""
    return smoke_objective({"target_fraction": fraction[:, -1]}, control, model.codec.smoke, energy_weight)


def control_smoke(model: PDEModel, rho0: Tensor, *, scale: float, energy_weight: float = 1e-3, steps: int = 25,
                  seed: int = 0, guidance: str = "wdno", samples: int = 1) -> tuple[Tensor, Tensor]:
    """Band forces steering the smoke of rho0 ``[B, n, n]`` through the target exit, by guided sampling.

    J (:func:`smoke_cost`) is evaluated on x0_hat decoded to physical space; ``scale`` is WDNO's w
    (``guidance="wdno"``: grad_{x0} J with :func:`~genforge.domains.pde.sampling.beta_schedule`) or the DPS
    gamma (``"jacobian"``). ``samples`` > 1 draws that many controls per problem and keeps the one with the
    lowest J re-simulated by the smoke solver (sample-and-select; uses the solver at inference).

    Returns:
        (control ``[B, F, 2, n, n]``, the model's own final target fraction ``[B]`` for it).
    """
    if guidance not in GUIDANCE:
        raise ValueError(f"guidance must be one of {GUIDANCE}, got {guidance!r}")
    if samples > 1:
        return _best_of(model, rho0, scale=scale, energy_weight=energy_weight, steps=steps, seed=seed,
                        guidance=guidance, samples=samples)
    codec = model.codec
    y = codec.condition(rho0.float())

    def cost(x0: Tensor) -> Tensor:
        return smoke_cost(*codec.decode(x0), model, energy_weight)

    wdno = guidance == "wdno"
    guided = objective_guidance(conditioned_denoiser(model, "control", y), cost, scale, jacobian=not wdno,
                                schedule=beta_schedule if wdno else None)
    denoiser = inpaint(guided, codec.known("control"), y)
    with torch.no_grad():
        _, control, fraction = codec.decode(_draw(model, denoiser, rho0.shape[0], steps, seed))
    return control, fraction[:, -1]


def _best_of(model: PDEModel, rho0: Tensor, *, scale: float, energy_weight: float, steps: int, seed: int,
             guidance: str, samples: int) -> tuple[Tensor, Tensor]:
    """:func:`control_smoke` with ``samples`` draws per problem, the lowest solver J kept."""
    batch = rho0.shape[0]
    control, fraction = control_smoke(model, rho0.repeat(samples, 1, 1), scale=scale, energy_weight=energy_weight,
                                      steps=steps, seed=seed, guidance=guidance)
    with torch.no_grad():
        out = simulate(rho0.repeat(samples, 1, 1).float(), control.float(), model.codec.smoke)
    cost = smoke_objective(out, control, model.codec.smoke, energy_weight).view(samples, batch)
    best = cost.argmin(0) * batch + torch.arange(batch)
    return control[best], fraction[best]
