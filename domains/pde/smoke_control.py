r"""Indirect control of the 2-D smoke box (:mod:`genforge.datasets.smoke`): the objective and the direct
gradient baseline (Adam on the band forces, back-propagating through the differentiable solver).

.. math::
    J(f) = -\text{target fraction}(f) + w_f \, \overline{f^2},

where the mean of f^2 runs over the band cells, frames and both components.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from genforge.datasets.smoke import SmokeConfig, control_mask, simulate


def smoke_objective(out: dict[str, Tensor], control: Tensor, cfg: SmokeConfig, energy_weight: float) -> Tensor:
    """J per trajectory ``[B]`` (lower is better) from :func:`simulate`'s output and the control ``[B, T, 2, n, n]``."""
    band = control_mask(cfg).to(control)
    energy = (control.square() * band).sum((1, 2, 3, 4)) / (band.sum() * 2 * cfg.frames)
    return -out["target_fraction"] + energy_weight * energy


def gradient_control(rho0: Tensor, cfg: SmokeConfig, *, iterations: int = 30, lr: float = 0.3,
                     energy_weight: float = 1e-3) -> tuple[Tensor, list[float], float]:
    """Adam on the band forces from f = 0, gradients by back-propagation through the solver.

    Returns:
        (control ``[B, frames, 2, n, n]``, mean J per iteration, wall seconds).
    """
    start = time.perf_counter()
    band = control_mask(cfg).to(rho0)
    control = torch.zeros(rho0.shape[0], cfg.frames, 2, cfg.n, cfg.n, dtype=rho0.dtype, requires_grad=True)
    optimizer = torch.optim.Adam([control], lr=lr)
    history = []
    for _ in range(iterations):
        optimizer.zero_grad()
        masked = control * band
        cost = smoke_objective(simulate(rho0, masked, cfg), masked, cfg, energy_weight)
        cost.sum().backward()
        optimizer.step()
        history.append(float(cost.detach().mean()))
    return (control * band).detach(), history, time.perf_counter() - start
