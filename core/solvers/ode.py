r"""Deterministic samplers of the probability-flow ODE over an explicit, descending time grid.

Every solver has the signature ``solve(denoiser, x_init, grid, *, generator=None, callback=None)``:
``x_init`` ``[B, ...]`` is the state at ``grid[0]``, ``grid`` ``[n + 1]`` descends to ``grid[-1]`` (0 for
the grids of :mod:`genforge.core.grids`), and the state at ``grid[-1]`` is returned. ``callback(i, t_i, x_i,
x0_hat_i)`` is called at every grid point where the denoiser is evaluated (i = 0 .. n - 1). ``generator`` is
unused (the solvers are deterministic) and only keeps the signature uniform. One denoiser call is one NFE.

The final step to sigma = 0 keeps each solver's order. There lambda = log(alpha / sigma) = +inf and the
velocity may be infinite (VP: sigma'(0) = inf) or 0/0 (x0- or eps-predicting models), so no solver
evaluates the denoiser at sigma = 0. Instead, with u = (sigma / alpha)^2 and y = x / alpha the PF-ODE reads
dy/du = -1/2 grad log p_u(y) = (y - D) / (2u) (heat-equation time), the data prediction D(x(u), u) along a
trajectory is a smooth function g(u), and g(0) = y(0). So the last step returns alpha(0) P(0) with P the
polynomial in u through the last data predictions (degree = order - 1). The result combines data
predictions only, never the noisy state: for data on a manifold (or quantised data) y(u) - y(0) ~ sqrt(u)
in the normal directions, so schemes that step y itself (Euler in u: (y + D) / 2) would leave part of the
noise in the sample, while g(u) stays smooth.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.processes.gaussian import GaussianPath

Callback = Callable[[int, float, Tensor, Tensor], None]
"""``callback(i, t_i, x_i, x0_hat_i)``."""


@dataclass(frozen=True)
class PathPoint:
    """The Gaussian path at one grid time (python floats, computed in float64).

    Attributes:
        t: time.
        alpha: signal scale alpha(t).
        sigma: noise scale sigma(t).
    """

    t: float
    alpha: float
    sigma: float

    @property
    def ratio(self) -> float:
        """rho = sigma / alpha (inf where alpha = 0)."""
        return math.inf if self.alpha == 0.0 else self.sigma / self.alpha

    @property
    def u(self) -> float:
        """Heat-equation time u = (sigma / alpha)^2 (inf where alpha = 0, 0 at clean data)."""
        return self.ratio ** 2

    @property
    def lam(self) -> float:
        """Half log-SNR lambda = log(alpha / sigma) (-inf where alpha = 0, +inf where sigma = 0)."""
        if self.alpha == 0.0:
            return -math.inf
        if self.sigma == 0.0:
            return math.inf
        return math.log(self.alpha) - math.log(self.sigma)


def path_point(process: GaussianPath, t: float) -> PathPoint:
    """alpha(t), sigma(t) in float64 as a :class:`PathPoint`."""
    tt = torch.tensor(t, dtype=torch.float64)
    return PathPoint(t, float(process.alpha(tt)), float(process.sigma(tt)))


def denoise_at(denoiser: Denoiser, x: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) at the scalar time ``t`` for the whole batch ``x`` ``[B, ...]`` (one NFE)."""
    return denoiser.x0_eps(x, torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device))


def observe_step(denoiser: Denoiser, x: Tensor, i: int, t: float,
                 callback: Callback | None) -> tuple[Tensor, Tensor]:
    """Step ``i``'s one denoiser call at ``t``, reported to ``callback(i, t, x, x0_hat)``: (x0_hat, eps_hat)."""
    x0, eps = denoise_at(denoiser, x, t)
    if callback is not None:
        callback(i, t, x, x0)
    return x0, eps


def grid_steps(grid: Tensor) -> list[tuple[int, float, float]]:
    """``(i, t_i, t_{i+1})`` for every step of a descending grid."""
    times = grid.tolist()
    return [(i, times[i], times[i + 1]) for i in range(len(times) - 1)]


def _velocity(denoiser: Denoiser, x: Tensor, t: float, x0: Tensor, eps: Tensor) -> Tensor:
    """PF-ODE drift dx/dt = alpha'(t) x0_hat + sigma'(t) eps_hat."""
    tt = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
    _, _, d_alpha, d_sigma = denoiser.process.coefficients(tt, x)
    return d_alpha * x0 + d_sigma * eps


def euler(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, generator: torch.Generator | None = None,
          callback: Callback | None = None) -> Tensor:
    """Explicit Euler on dx/dt = velocity(x, t) in t. Order 1; n NFE for n steps."""
    x = x_init
    for i, t, t_next in grid_steps(grid):
        x0, eps = observe_step(denoiser, x, i, t, callback)
        x = x + (t_next - t) * _velocity(denoiser, x, t, x0, eps)
    return x


def heun(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, generator: torch.Generator | None = None,
         callback: Callback | None = None) -> Tensor:
    """Heun's method (explicit trapezoid, Karras et al. 2022 Alg. 1) on dx/dt = velocity(x, t) in t.

    Order 2; 2 NFE per step, the step to sigma = 0 included: there the velocity is not evaluated (it is
    infinite for VP paths and 0/0 for x0-predicting models); instead an Euler step in u of
    dy/du = (y - D) / (2u) to u_s / 2 and a second evaluation give D at u_s and u_s / 2, and the linear
    extrapolation in u, x_0 = alpha(0) (2 D(u_s / 2) - D(u_s)), has local error O(u_s^2). Paths whose
    sigma(grid[-1]) > 0 (VE) take plain Heun steps throughout.
    """
    process = denoiser.process
    x = x_init
    for i, t, t_next in grid_steps(grid):
        x0, eps = observe_step(denoiser, x, i, t, callback)
        end = path_point(process, t_next)
        if end.sigma == 0.0:
            return _extrapolated_final_step(denoiser, x, x0, path_point(process, t), end)
        velocity = _velocity(denoiser, x, t, x0, eps)
        x_pred = x + (t_next - t) * velocity
        velocity_next = _velocity(denoiser, x_pred, t_next, *denoise_at(denoiser, x_pred, t_next))
        x = x + 0.5 * (t_next - t) * (velocity + velocity_next)
    return x


def _extrapolated_final_step(denoiser: Denoiser, x: Tensor, x0: Tensor, start: PathPoint,
                             end: PathPoint) -> Tensor:
    """Heun's last step to sigma = 0: Euler in u to u_s / 2, then linear extrapolation of D in u to 0."""
    if start.alpha == 0.0:
        return end.alpha * x0
    u_mid = 0.5 * start.u
    y = x / start.alpha
    y_mid = y - 0.5 * u_mid * (y - x0) / start.u
    t_mid = float(denoiser.process.t_from_log_snr(torch.tensor(-math.log(u_mid), dtype=torch.float64)))
    mid = path_point(denoiser.process, t_mid)
    x0_mid, _ = denoise_at(denoiser, mid.alpha * y_mid, t_mid)
    return end.alpha * (2.0 * x0_mid - x0)


def ddim(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, generator: torch.Generator | None = None,
         callback: Callback | None = None) -> Tensor:
    """Deterministic DDIM (Song et al. 2021a, eq. 12 with eta = 0): x_next = alpha_next x0_hat + sigma_next eps_hat.

    Equal to first-order DPM-Solver++; order 1; n NFE for n steps. Its last step to sigma = 0 returns
    alpha(0) x0_hat, a first-order jump.
    """
    process = denoiser.process
    x = x_init
    for i, t, t_next in grid_steps(grid):
        x0, eps = observe_step(denoiser, x, i, t, callback)
        end = path_point(process, t_next)
        x = end.alpha * x0 + end.sigma * eps
    return x


def dpm_solver_pp_2m(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *,
                     generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022b, Alg. 2): multistep data prediction, order 2; n NFE for n steps.

    The order is in the lambda-step: use grids whose lambda-steps all shrink with n (``grids.log_snr``,
    ``grids.karras``). On grids uniform in t the lambda-steps next to t = 0 do not shrink with n
    (u_{n-2} / u_{n-1} = 2, 3/2, ... for VP) and the measured order drops to about 1. The last step to
    sigma = 0 is the linear extrapolation of D in u.
    """
    return _dpm_solver_pp(denoiser, x_init, grid, 2, callback)


def dpm_solver_pp_3m(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *,
                     generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """DPM-Solver++(3M): third-order multistep data prediction (Lu et al. 2022b, reference code); order 3.

    The second divided difference enters with weight 2 phi_3 (the exact integral of the quadratic
    interpolant in lambda: int_0^h e^(tau - h) tau^2 / 2 dtau = -h^2 phi_3). The reference code and diffusers
    use phi_3, which leaves an O(h^3) local error (measured: local error ratio 8 per halving instead of 16;
    global order 2.3 instead of 3.0 on the eight-Gaussians mixture). Needs about 20 steps or more: at 5-10
    steps on Karras grids it is less stable than 2M. Last step: quadratic extrapolation of D in u.
    """
    return _dpm_solver_pp(denoiser, x_init, grid, 3, callback)


@dataclass(frozen=True)
class _Evaluated:
    point: PathPoint
    x0: Tensor


def _dpm_solver_pp(denoiser: Denoiser, x_init: Tensor, grid: Tensor, order: int,
                   callback: Callback | None) -> Tensor:
    r"""Multistep exponential integrator of x_t / sigma_t = x_s / sigma_s + \int e^lambda D d lambda.

    The history keeps the last ``order`` evaluations with finite lambda (a start at alpha = 0 carries no
    slope information and drops the order there instead of producing inf - inf).
    """
    process = denoiser.process
    x = x_init
    history: list[_Evaluated] = []
    for i, t, t_next in grid_steps(grid):
        start, end = path_point(process, t), path_point(process, t_next)
        x0, _ = observe_step(denoiser, x, i, t, callback)
        history = [*history, _Evaluated(start, x0)][-order:] if start.alpha > 0.0 else []
        if end.sigma == 0.0:
            return end.alpha * (_extrapolate_to_clean(history) if history else x0)
        x = _multistep_update(x, x0, start, end, history)
    return x


def _multistep_update(x: Tensor, x0: Tensor, start: PathPoint, end: PathPoint,
                      history: list[_Evaluated]) -> Tensor:
    """One DPM-Solver++ step from ``start`` to ``end`` of order len(history) (at least 1)."""
    h = end.lam - start.lam
    phi_1 = math.expm1(-h)
    x_next = (end.sigma / start.sigma) * x - end.alpha * phi_1 * x0
    if len(history) < 2:
        return x_next
    r0 = (start.lam - history[-2].point.lam) / h
    slope_0 = (x0 - history[-2].x0) / r0
    if len(history) == 2:
        return x_next - 0.5 * end.alpha * phi_1 * slope_0
    r1 = (history[-2].point.lam - history[-3].point.lam) / h
    slope_1 = (history[-2].x0 - history[-3].x0) / r1
    first = slope_0 + (r0 / (r0 + r1)) * (slope_0 - slope_1)
    second = (slope_0 - slope_1) / (r0 + r1)
    phi_2 = phi_1 / h + 1.0
    phi_3 = phi_2 / h - 0.5
    return x_next + end.alpha * phi_2 * first - 2.0 * end.alpha * phi_3 * second


def _extrapolate_to_clean(history: list[_Evaluated]) -> Tensor:
    """P(0) for the Lagrange polynomial in u through the data predictions of ``history``."""
    us = [e.point.u for e in history]
    total = torch.zeros_like(history[0].x0)
    for j, evaluated in enumerate(history):
        weight = math.prod(u_m / (u_m - us[j]) for m, u_m in enumerate(us) if m != j)
        total = total + weight * evaluated.x0
    return total
