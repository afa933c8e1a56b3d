r"""1-D viscous Burgers with distributed control, the WDNO / DiffPhyCon setting: solver and data generator.

.. math::
    u_t + (u^2/2)_x = \nu u_{xx} + f(t, x), \qquad x \in [0, 1],\ u(t, 0) = u(t, 1) = 0,\ t \in [0, 8],
    \ \nu = 0.01.

Storage grid (as the papers): 120 interior points ``x_j = (j + 1) / 121`` and 81 frames ``t_k = k / 10``
(u0 + 80 frames); the control f is piecewise constant in time over the 80 intervals ``[t_k, t_{k+1})``
and, between storage points, the piecewise-linear interpolant of its 120 values (0 at the walls). u0 is
interpolated to the fine grid the same way, so a stored (u0, f) pair defines the PDE problem exactly and
re-simulating it with any solver resolution converges to the same trajectory.

Solver: refinement ``r`` puts ``121 r - 1`` interior points on the fine grid (storage point j is fine
point ``r (j + 1) - 1``); energy-conserving (skew-symmetric) central flux
``F_{i+1/2} = (u_i^2 + u_i u_{i+1} + u_{i+1}^2) / 6``, 3-point diffusion, SSP-RK3 in time with a fixed
step from the diffusive and advective (|u| <= 10; or, ``adaptive``, the actual speeds per interval)
stability limits: 2nd order in space, 3rd in time,
vectorised over the batch, differentiable (optionally checkpointed per control interval for BPTT).

Data (WDNO ``generate_burgers.py``): u0 = two Gaussian bumps (centres U[0.2, 0.4] and U[0.6, 0.8],
amplitudes U[0, 2] and U[-2, 0], widths U[0.05, 0.15]); f = sum of 8 separable space-time Gaussian bumps
(centres U[0, 1] in x and normalised time, widths U[0.1, 0.4], amplitude U[-1.5, 1.5] for the first and
Bernoulli(1/2) x U[-1.5, 1.5] for the 7 others, times 2), sampled at the storage points and interval midpoints.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from genforge.datasets.simulation_cache import simulate_in_chunks
from genforge.datasets.storage import cache_dir, load_cache, save_cache

NU = 0.01
T_END = 8.0
NUM_INTERVALS = 80
NUM_X = 120
U_BOUND = 10.0
_FORMAT = 1

Forcing = Callable[[float], Tensor | None]
"""``forcing(t) -> [B, n]`` on the fine grid (or None for no forcing) at physical time t."""


@dataclass(frozen=True)
class BurgersGrid:
    """Fine solver grid for refinement ``refine`` of the 120-point storage grid.

    Attributes:
        refine: fine cells per storage cell (``n = 121 refine - 1`` interior points).
        nu: viscosity.
        points: if > 0, the number of interior points instead (any uniform grid; ``refine`` is then unused).
    """

    refine: int = 2
    nu: float = NU
    points: int = 0

    @property
    def n(self) -> int:
        """Interior points of the fine grid."""
        return self.points if self.points > 0 else (NUM_X + 1) * self.refine - 1

    @property
    def dx(self) -> float:
        """Fine spacing."""
        return 1.0 / (self.n + 1)

    def steps_per_interval(self, interval: float = T_END / NUM_INTERVALS, u_bound: float = U_BOUND) -> int:
        """SSP-RK3 steps per control interval: 0.8 x the diffusive (2.51) and advective (sqrt 3, speeds
        up to ``u_bound``) limits."""
        dt = 0.8 * min(2.51 * self.dx ** 2 / (4.0 * self.nu), math.sqrt(3.0) * self.dx / u_bound)
        return math.ceil(interval / dt)

    def x(self) -> Tensor:
        """Fine interior coordinates ``[n]`` (float64)."""
        return torch.arange(1, self.n + 1, dtype=torch.float64) / (self.n + 1)


def storage_x() -> Tensor:
    """Storage coordinates ``[120]``: ``(j + 1) / 121``."""
    return torch.arange(1, NUM_X + 1, dtype=torch.float64) / (NUM_X + 1)


def to_fine(values: Tensor, refine: int) -> Tensor:
    """Piecewise-linear interpolation from the storage grid to the fine grid (0 at the walls).

    Shapes:
        values: ``[..., 120]`` -> ``[..., 121 refine - 1]``.
    """
    padded = torch.nn.functional.pad(values, (1, 1))
    position = torch.arange(1, (NUM_X + 1) * refine, dtype=torch.float64) / refine
    lo = position.floor().long().clamp(max=NUM_X)
    weight = (position - lo).to(values.dtype)
    return padded[..., lo] * (1.0 - weight) + padded[..., lo + 1] * weight


def interpolate_storage(values: Tensor, x: Tensor) -> Tensor:
    """The piecewise-linear interpolant of storage-grid values (0 at the walls) at positions ``x`` in [0, 1].

    Shapes:
        values: ``[..., 120]``, x: ``[M]`` -> ``[..., M]``.
    """
    padded = torch.nn.functional.pad(values, (1, 1))
    position = x.to(torch.float64) * (NUM_X + 1)
    lo = position.floor().long().clamp(0, NUM_X)
    weight = (position - lo).to(values.dtype)
    return padded[..., lo] * (1.0 - weight) + padded[..., lo + 1] * weight


def rhs(u: Tensor, forcing: Tensor | None, grid: BurgersGrid) -> Tensor:
    """du/dt of the semi-discrete system (Dirichlet 0 walls). Shapes: u ``[B, n]``, forcing ``[B, n]``.

    Written with fused / in-place arithmetic on fresh intermediates (autograd-safe): the solver is
    launch-bound at these sizes.
    """
    padded = torch.nn.functional.pad(u, (1, 1))
    left, right = padded[..., :-1], padded[..., 1:]
    flux6 = torch.addcmul(right * right, left, left + right)                 # 6 F_{i+1/2}
    laplace = torch.add(padded[..., 2:], padded[..., :-2]).sub_(u, alpha=2.0)
    du = torch.sub(flux6[..., :-1], flux6[..., 1:]).mul_(1.0 / (6.0 * grid.dx))
    du = du.add_(laplace, alpha=grid.nu / grid.dx ** 2)
    return du if forcing is None else du.add_(forcing)


def rk3_steps(u: Tensor, forcing: Forcing, t0: float, dt: float, steps: int, grid: BurgersGrid) -> Tensor:
    """``steps`` SSP-RK3 (Shu-Osher) steps of size ``dt`` from time ``t0``. Shapes: u ``[B, n]``."""
    for i in range(steps):
        t = t0 + i * dt
        u1 = torch.add(u, rhs(u, forcing(t), grid), alpha=dt)
        u2 = torch.add(u1, rhs(u1, forcing(t + dt), grid), alpha=dt).mul_(0.25).add_(u, alpha=0.75)
        u = torch.add(u2, rhs(u2, forcing(t + 0.5 * dt), grid), alpha=dt).mul_(2.0 / 3.0).add_(u, alpha=1.0 / 3.0)
    return u


def _interval(u: Tensor, f: Tensor, dt: float, steps: int, grid: BurgersGrid) -> Tensor:
    return rk3_steps(u, lambda _t: f, 0.0, dt, steps, grid)


def simulate(u0: Tensor, f: Tensor, refine: int = 2, *, nu: float = NU, checkpointed: bool = False,
             steps_per_interval: int | None = None, adaptive: bool = False) -> Tensor:
    """Trajectories on the storage grid from stored initial states and controls.

    Args:
        u0: ``[B, 120]`` initial states on the storage grid.
        f: ``[B, 80, 120]`` controls, constant over each interval of length 0.1.
        refine: solver refinement (``121 refine - 1`` fine points).
        nu: viscosity.
        checkpointed: recompute each interval in the backward pass (BPTT memory O(intervals)).
        steps_per_interval: override the stability-derived number of RK3 steps per interval.
        adaptive: per interval, take the advective limit from the actual speeds, ``1.25 (max|u| + 0.1 max|f|)``
            (at least 1), instead of ``U_BOUND`` (~1.5x fewer steps at refine 2, where the diffusive limit
            then binds; same order of accuracy; used to score controls, not for the cached data).

    Returns:
        u ``[B, 81, 120]``: u0 and the state at the end of each interval, at the storage points.
    """
    grid = BurgersGrid(refine, nu)
    steps = steps_per_interval or grid.steps_per_interval()
    dt = T_END / NUM_INTERVALS / steps
    u = to_fine(u0, refine)
    f_fine = to_fine(f, refine)
    keep = torch.arange(1, NUM_X + 1) * refine - 1
    frames = [u0]
    interval = T_END / NUM_INTERVALS
    for k in range(f.shape[1]):
        if adaptive and steps_per_interval is None:
            bound = 1.25 * float(u.detach().abs().max() + interval * f_fine[:, k].detach().abs().max())
            steps = grid.steps_per_interval(interval, max(bound, 1.0))
            dt = interval / steps
        if checkpointed and torch.is_grad_enabled():
            u = checkpoint(_interval, u, f_fine[:, k], dt, steps, grid, use_reentrant=False)
        else:
            u = _interval(u, f_fine[:, k], dt, steps, grid)
        frames.append(u[..., keep])
    return torch.stack(frames, dim=1)


def sample_u0(num: int, generator: torch.Generator) -> Tensor:
    """Two-bump initial states ``[num, 120]`` (float64) on the storage grid (see module docstring)."""
    x = storage_x()

    def bump(lo: float, amp_lo: float) -> Tensor:
        loc = torch.rand(num, 1, generator=generator, dtype=torch.float64) * 0.2 + lo
        amp = torch.rand(num, 1, generator=generator, dtype=torch.float64) * 2.0 + amp_lo
        sig = torch.rand(num, 1, generator=generator, dtype=torch.float64) * 0.1 + 0.05
        return amp * torch.exp(-0.5 * (x - loc) ** 2 / sig ** 2)

    return bump(0.2, 0.0) + bump(0.6, -2.0)


def sample_forcing(num: int, generator: torch.Generator, bumps: int = 8) -> Tensor:
    """Controls ``[num, 80, 120]`` (float64): sums of separable Gaussian bumps (see module docstring)."""
    x = storage_x().view(1, 1, -1)
    t = ((torch.arange(NUM_INTERVALS, dtype=torch.float64) + 0.5) / NUM_INTERVALS).view(1, -1, 1)

    def uniform(lo: float, hi: float) -> Tensor:
        return torch.rand(num, 1, 1, generator=generator, dtype=torch.float64) * (hi - lo) + lo

    f = torch.zeros(num, NUM_INTERVALS, NUM_X, dtype=torch.float64)
    for b in range(bumps):
        amp = uniform(-1.5, 1.5)
        if b > 0:
            amp = amp * torch.randint(0, 2, (num, 1, 1), generator=generator).to(torch.float64)
        space = torch.exp(-0.5 * (x - uniform(0.0, 1.0)) ** 2 / uniform(0.1, 0.4) ** 2)
        time = 2.0 * torch.exp(-0.5 * (t - uniform(0.0, 1.0)) ** 2 / uniform(0.1, 0.4) ** 2)
        f = f + amp * space * time
    return f


def generate(num: int, seed: int = 0, refine: int = 2, *, chunk: int = 500,
             progress: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """``num`` trajectories, deterministic in (num, seed, refine) whatever ``chunk``.

    Returns:
        ``{"u": [num, 81, 120], "f": [num, 80, 120]}`` float32. ``progress(done)`` is called per chunk.
    """
    generator = torch.Generator().manual_seed(seed)
    u0 = sample_u0(num, generator)
    f = sample_forcing(num, generator)
    parts = simulate_in_chunks(lambda rows: simulate(u0[rows], f[rows], refine), num, chunk, progress)
    u = torch.cat(parts) if parts else torch.zeros(0, NUM_INTERVALS + 1, NUM_X, dtype=torch.float64)
    return {"u": u.float(), "f": f.float()}


def cached_generate(num: int, seed: int = 0, refine: int = 2, *, cache: Path | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """:func:`generate` through the data cache (file keyed by num, seed, refine and the format version)."""
    path = (cache or cache_dir()) / "burgers" / f"burgers_v{_FORMAT}_n{num}_s{seed}_r{refine}.pt"
    hit = load_cache(path)
    if hit is not None and set(hit) >= {"u", "f"}:
        return {"u": hit["u"], "f": hit["f"]}
    data = generate(num, seed, refine, progress=progress)
    save_cache(path, data)
    return data
