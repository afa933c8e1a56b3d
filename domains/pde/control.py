r"""The Burgers control objective and the direct gradient-based baseline (BPTT through the solver).

Objective (WDNO / DiffPhyCon, ``test_util.metric``): for a target final state u* and control f,

.. math::
    J(f) = \frac{1}{120}\sum_j \big(u_f(T, x_j) - u^*(x_j)\big)^2 + w_f \sum_{k, j} f_{k j}^2,

the tracking MSE of the final state on the 120 storage points plus ``energy_weight`` times the control
energy (sum of squares over the 80 x 120 control cells). Controls are always scored by re-simulating them
with the fine solver (:func:`evaluate_controls`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.datasets.burgers import simulate as simulate_burgers


@dataclass(frozen=True)
class ControlObjective:
    """J(u_T, f) = MSE(u_T, target) + energy_weight * sum f^2, per sample.

    Args:
        target: ``[B, 120]`` target final states.
        energy_weight: w_f.
    """

    target: Tensor
    energy_weight: float

    def tracking(self, u_final: Tensor) -> Tensor:
        """MSE ``[B]`` of ``u_final`` ``[B, 120]`` to the target."""
        return (u_final - self.target.to(u_final)).square().mean(-1)

    def energy(self, f: Tensor) -> Tensor:
        """Control energy ``[B]`` (sum of squares of ``f`` ``[B, 80, 120]``)."""
        return f.square().sum((-1, -2))

    def __call__(self, u_final: Tensor, f: Tensor) -> Tensor:
        return self.tracking(u_final) + self.energy_weight * self.energy(f)


def evaluate_controls(u0: Tensor, f: Tensor, objective: ControlObjective, refine: int) -> dict[str, Tensor]:
    """Re-simulate controls with the solver at ``refine`` (float64, adaptive steps) and score them.

    Returns:
        ``{"J", "tracking", "energy"}`` each ``[B]`` and ``"u"`` ``[B, 81, 120]``.
    """
    with torch.no_grad():
        u = simulate_burgers(u0.double(), f.double(), refine, adaptive=True)
    tracking = objective.tracking(u[:, -1])
    energy = objective.energy(f.double())
    return {"J": tracking + objective.energy_weight * energy, "tracking": tracking, "energy": energy, "u": u}


def gradient_control(u0: Tensor, objective: ControlObjective, *, refine: int = 1, iterations: int = 50,
                     lr: float = 0.2, steps_per_interval: int | None = None, init: Tensor | None = None,
                     progress: Callable[[int, float], None] | None = None) -> tuple[Tensor, float]:
    """Direct optimisation of f by Adam on J through the differentiable solver (BPTT, checkpointed).

    Args:
        u0: ``[B, 120]``; objective: the cost; refine: solver refinement used inside the loop.
        iterations: Adam steps; lr: its learning rate.
        steps_per_interval: RK3 steps per control interval inside the loop (None: the stability default).
        init: starting control (zeros by default).
        progress: ``progress(iteration, mean J)``.

    Returns:
        (f ``[B, 80, 120]``, wall seconds).
    """
    start = time.perf_counter()
    f = (torch.zeros(u0.shape[0], 80, u0.shape[-1], dtype=torch.float64) if init is None
         else init.double().clone()).requires_grad_(True)
    optimizer = torch.optim.Adam([f], lr=lr)
    u0 = u0.double()
    for iteration in range(iterations):
        optimizer.zero_grad()
        u = simulate_burgers(u0, f, refine, checkpointed=True, steps_per_interval=steps_per_interval)
        loss = objective(u[:, -1], f)
        loss.sum().backward()
        optimizer.step()
        if progress is not None:
            progress(iteration + 1, float(loss.detach().mean()))
    return f.detach(), time.perf_counter() - start
