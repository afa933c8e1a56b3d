r"""Burgers trajectories on cell-centred space-time grids of any power-of-two resolution (super-resolution data).

The PDE problems are those of :mod:`genforge.datasets.burgers` (same u0 / f samplers and seeds; u0 and f
defined by their 120 storage values, piecewise-linear in x and piecewise constant over the 80 control
intervals). A trajectory at resolution (K, N) is the solution sampled at the cell centres of a uniform
K x N partition of [0, T] x [0, 1]:

.. math::
    u_{kj} = u\big((k + \tfrac12) T / K,\ (j + \tfrac12) / N\big), \qquad k < K,\ j < N,

so halving both sizes keeps cell centres nested in the 2 x 2 block sense, and the coarse grid of a finer
one is its 2 x 2 block mean (the Haar approximation band, see :mod:`genforge.domains.pde.superres`).
K must be a multiple of 40 (each sample time is then an odd multiple of T / (2K), which divides the control
interval 0.1).

Solver: the one of :mod:`genforge.datasets.burgers` on ``points`` interior vertices of spacing
``1 / (points + 1)``; ``points + 1`` must be a multiple of 2N so the sample positions are vertices. The
advective time-step bound is taken per control interval from the actual speeds (``adaptive`` there).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from genforge.datasets.burgers import (
    NUM_INTERVALS,
    T_END,
    BurgersGrid,
    interpolate_storage,
    rk3_steps,
    sample_forcing,
    sample_u0,
)
from genforge.datasets.simulation_cache import simulate_in_chunks
from genforge.datasets.storage import cache_dir, load_cache, save_cache

_FORMAT = 1


def check_resolution(frames: int, points: int, solver_points: int) -> None:
    """ValueError unless (frames, points) is a sampling grid the solver on ``solver_points`` vertices can hit."""
    if frames <= 0 or frames % (NUM_INTERVALS // 2):
        raise ValueError(f"frames must be a positive multiple of {NUM_INTERVALS // 2}, got {frames}")
    if points <= 0 or (solver_points + 1) % (2 * points):
        raise ValueError(f"solver_points + 1 = {solver_points + 1} must be a multiple of 2 x points = {2 * points}")


def solve_cell_centred(u0: Tensor, f: Tensor, frames: int, points: int, solver_points: int) -> Tensor:
    """Trajectories sampled at the cell centres of a ``frames`` x ``points`` grid (module docstring).

    Args:
        u0: ``[B, 120]`` initial states (storage grid).
        f: ``[B, 80, 120]`` controls (storage grid, constant per interval).
        frames: K, a multiple of 40.
        points: N, with ``(solver_points + 1) % (2 N) == 0``.
        solver_points: interior vertices of the solver grid.

    Returns:
        ``[B, K, N]`` (dtype of u0).
    """
    check_resolution(frames, points, solver_points)
    grid = BurgersGrid(points=solver_points)
    x = grid.x()
    u = interpolate_storage(u0, x)
    f_fine = interpolate_storage(f, x)
    stride = (solver_points + 1) // (2 * points)
    keep = torch.arange(points) * 2 * stride + stride - 1
    pieces = 2 * frames // NUM_INTERVALS                    # sub-intervals of length T / (2K) per control interval
    piece = T_END / NUM_INTERVALS / pieces
    out = []
    for k in range(NUM_INTERVALS):
        force = f_fine[:, k]
        bound = 1.25 * float(u.abs().max() + T_END / NUM_INTERVALS * force.abs().max())
        steps = math.ceil(grid.steps_per_interval(piece, max(bound, 1.0)))
        for p in range(pieces):
            u = rk3_steps(u, lambda _t, force=force: force, 0.0, piece / steps, steps, grid)
            if (k * pieces + p) % 2 == 0:                   # after an odd number of sub-intervals
                out.append(u[:, keep])
    return torch.stack(out, dim=1)


def generate(num: int, seed: int, frames: int, points: int, solver_points: int, *, chunk: int = 250,
             progress: Callable[[int], None] | None = None) -> Tensor:
    """``[num, K, N]`` float32 trajectories of the problems of ``burgers.generate(num, seed)`` (same u0, f)."""
    generator = torch.Generator().manual_seed(seed)
    u0 = sample_u0(num, generator)
    f = sample_forcing(num, generator)
    parts = simulate_in_chunks(
        lambda rows: solve_cell_centred(u0[rows], f[rows], frames, points, solver_points).float(), num, chunk, progress)
    return torch.cat(parts) if parts else torch.zeros(0, frames, points)


def cached_generate(num: int, seed: int, frames: int, points: int, solver_points: int, *,
                    cache: Path | None = None, progress: Callable[[int], None] | None = None) -> Tensor:
    """:func:`generate` through the data cache (keyed by all arguments and the format version)."""
    name = f"burgers_cc_v{_FORMAT}_n{num}_s{seed}_k{frames}_x{points}_p{solver_points}.pt"
    path = (cache or cache_dir()) / "burgers" / name
    hit = load_cache(path)
    if hit is not None and "u" in hit:
        return hit["u"]
    u = generate(num, seed, frames, points, solver_points, progress=progress)
    save_cache(path, {"u": u})
    return u
