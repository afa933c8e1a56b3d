r"""Samplers of Bayesian flow networks over an explicit, descending genforge time grid.

The paper's discrete-time generative procedure (Graves et al. 2023, Alg. 3 for continuous and Alg. 9 for
discrete data; CrysBFN's von Mises version): starting from the prior input parameters at ``grid[0]``, each
step asks the network for a data estimate from the current parameters at t_i, draws the sender sample
y from the receiver (the sender around that estimate) with the accuracy the schedule adds between t_i and
t_{i+1}, and applies the Bayesian update. The result is the network's estimate (continuous, periodic) or
a sample of its output distribution (discrete) at ``grid[-1]``. A grid of n steps costs n + 1 NFE.

Models take the input parameters and t ``[B]`` (close over any conditioning): ``model(mu, t)`` returning the
process's prediction kind (continuous), ``model(theta, t)`` returning logits (discrete), and
``model(m, c, t)`` returning the coordinate estimate in data units (periodic).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.periodic import VonMisesBFN, wrap
from genforge.core.processes.von_mises import sample_von_mises
from genforge.core.solvers.ode import Callback, grid_steps

BFNModel = Callable[[Tensor, Tensor], Tensor]
"""``model(params [B, ...], t [B]) -> prediction [B, ...]``."""

VonMisesModel = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``model(m [B, ...], c [B, ...], t [B]) -> x0_hat [B, ...]`` (m and x0_hat in data units)."""


def _times(t: float, like: Tensor) -> Tensor:
    return torch.full((like.shape[0],), t, dtype=like.dtype, device=like.device)


def _float64(t: float) -> Tensor:
    return torch.tensor(t, dtype=torch.float64)


def continuous_bfn(model: BFNModel, process: ContinuousBFN, x_init: Tensor, grid: Tensor, *,
                   generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """Alg. 3: y ~ N(x_hat, 1/alpha) with alpha = rho(t_{i+1}) - rho(t_i), rho(s) = sigma_1^(-2s).

    ``x_init`` is the input mean at ``grid[0]`` (``process.prior(shape)``, i.e. 0, at t = 1) and its
    precision is taken as rho(grid[0]). ``callback(i, t_i, mu_i, x_hat_i)``. Returns x_hat at ``grid[-1]``.
    """
    mu = x_init
    rho = float(process.precision(_float64(float(grid[0]))))
    for i, t, t_next in grid_steps(grid):
        times = _times(t, mu)
        x_hat = process.predict_x0(model(mu, times), mu, times)
        if callback is not None:
            callback(i, t, mu, x_hat)
        alpha = float(process.precision(_float64(t_next))) - rho
        noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        mu, rho_tensor = process.update(mu, rho, x_hat + noise / math.sqrt(alpha), alpha)
        rho = float(rho_tensor)
    end = _times(float(grid[-1]), mu)
    return process.predict_x0(model(mu, end), mu, end)


def _sample_one_hot(probs: Tensor, generator: torch.Generator | None) -> Tensor:
    flat = probs.reshape(-1, probs.shape[-1])
    classes = torch.multinomial(flat, 1, generator=generator).reshape(probs.shape[:-1])
    return torch.nn.functional.one_hot(classes, probs.shape[-1]).to(probs.dtype)


def discrete_bfn(model: BFNModel, process: DiscreteBFN, x_init: Tensor, grid: Tensor, *,
                 generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """Alg. 9: k ~ softmax(model), y ~ N(alpha (K e_k - 1), alpha K I), alpha = beta(t_{i+1}) - beta(t_i).

    ``x_init`` are input probabilities ``[B, ..., K]`` (``process.prior(shape)``: uniform, at t = 1).
    ``callback(i, t_i, theta_i, output_probs_i)``. Returns one-hot samples ``[B, ..., K]`` of the output
    distribution at ``grid[-1]``.
    """
    theta = x_init
    num_classes = process.num_classes
    for i, t, t_next in grid_steps(grid):
        probs = torch.softmax(model(theta, _times(t, theta)), dim=-1)
        if callback is not None:
            callback(i, t, theta, probs)
        alpha = float(process.accuracy(_float64(t_next)) - process.accuracy(_float64(t)))
        mean = alpha * (num_classes * _sample_one_hot(probs, generator) - 1.0)
        noise = torch.randn(theta.shape, generator=generator, device=theta.device, dtype=theta.dtype)
        theta = process.update(theta, mean + math.sqrt(alpha * num_classes) * noise)
    final = torch.softmax(model(theta, _times(float(grid[-1]), theta)), dim=-1)
    return _sample_one_hot(final, generator)


def von_mises_bfn(model: VonMisesModel, process: VonMisesBFN, x_init: Tensor, grid: Tensor, *,
                  generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """CrysBFN sampler: y ~ vM(x_hat, alpha_i), then c' e^(i m') = c e^(i m) + alpha_i e^(i y).

    ``x_init`` are prior input means in data units (``process.prior(shape)``: uniform, concentration 0 at
    t = 1). The accuracies come from the entropy schedule at the grid's times
    (:meth:`VonMisesBFN.sender_accuracies`), so any grid works; the network sees the sampled concentration
    c. ``callback(i, t_i, m_i, x_hat_i)``. Returns x_hat at ``grid[-1]`` wrapped into [0, period).
    """
    m = x_init
    c = torch.zeros_like(m)
    alphas = process.sender_accuracies(grid.double()).tolist()
    to_data_units = process.period / (2.0 * math.pi)
    for i, t, _ in grid_steps(grid):
        x_hat = model(m, c, _times(t, m))
        if callback is not None:
            callback(i, t, m, x_hat)
        offsets = sample_von_mises(torch.zeros((), dtype=torch.float64, device=m.device),
                                   torch.full(m.shape, alphas[i], dtype=torch.float64, device=m.device),
                                   generator)
        m, c = process.update(m, c, x_hat + to_data_units * offsets.to(m.dtype), alphas[i])
    return wrap(model(m, c, _times(float(grid[-1]), m)), process.period)

