r"""Charged N-body trajectories (the EGNN / GeoTDM setting), simulated in torch over many systems at once.

Setting of Satorras et al. (2021) and Han et al. (2024, GeoTDM), following their ``ChargedParticlesSim``:
5 particles of unit mass in 3-D, charges q_i = +-1 with probability 1/2 each, initial positions
N(0, loc_std^2 I), initial velocities of norm ``vel_norm`` in uniformly random directions, and the
Coulomb-like force

.. math:: F_i = \sum_{j \ne i} q_i q_j \frac{x_i - x_j}{\|x_i - x_j\|^3}

(like charges repel), clipped per component to |F| <= 0.1 / dt as in the reference. Integration is the
reference's kick-drift scheme (symplectic Euler; velocities live half a step after positions) with
dt = 0.001 for 5000 steps, positions sampled every 100 steps (frames at steps 100, 200, ..., 4900, so 49
frames). The conserved energy is E = 1/2 sum |v|^2 + sum_{i<j} q_i q_j / r_ij; see :func:`energy`.

Dimensionless units (the reference's). Generated splits are cached in ``~/.cache/genforge`` keyed by all
simulation parameters and the seed; a split is a pure function of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from rich.progress import Progress
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.simulation_cache import cached_simulation

_CACHE_FORMAT = 1


@dataclass(frozen=True)
class NBodyConfig:
    """Parameters of the charged-particle simulation (defaults: the EGNN / GeoTDM data).

    Args:
        num_particles: particles per system.
        loc_std: standard deviation of initial positions (scaled by (n / 5)^(1/3) as in the reference).
        vel_norm: norm of every initial velocity.
        interaction_strength: prefactor of the Coulomb force.
        dt: integration time step.
        steps: integration steps per trajectory.
        sample_every: steps between saved frames (frames at sample_every, 2 sample_every, ...).
    """

    num_particles: int = 5
    loc_std: float = 1.0
    vel_norm: float = 0.5
    interaction_strength: float = 1.0
    dt: float = 0.001
    steps: int = 5000
    sample_every: int = 100

    @property
    def num_frames(self) -> int:
        """Saved frames per trajectory: steps / sample_every - 1 (the reference's T_save)."""
        return self.steps // self.sample_every - 1

    @property
    def max_force(self) -> float:
        """Per-component force clip 0.1 / dt."""
        return 0.1 / self.dt


@dataclass(frozen=True)
class NBodyData:
    """A set of simulated systems.

    Shapes: ``pos [S, T, N, 3]`` positions, ``vel [S, T, N, 3]`` velocities (half a step after ``pos``),
    ``charges [S, N]`` (+-1).
    """

    pos: Tensor
    vel: Tensor
    charges: Tensor


def coulomb_forces(pos: Tensor, charges: Tensor, strength: float = 1.0) -> Tensor:
    """F_i = strength sum_j q_i q_j (x_i - x_j) / |x_i - x_j|^3.  ``pos [S, N, 3]``, ``charges [S, N]`` ->
    ``[S, N, 3]``."""
    diff = pos[:, :, None, :] - pos[:, None, :, :]
    dist2 = diff.square().sum(-1)
    eye = torch.eye(pos.shape[1], dtype=torch.bool, device=pos.device)
    inv3 = torch.where(eye, torch.zeros_like(dist2), dist2.clamp_min(1e-12).pow(-1.5))
    coupling = strength * charges[:, :, None] * charges[:, None, :] * inv3
    return (coupling[..., None] * diff).sum(2)


def energy(pos: Tensor, vel: Tensor, charges: Tensor, strength: float = 1.0) -> Tensor:
    """Total energy 1/2 sum |v|^2 + strength sum_{i<j} q_i q_j / r_ij.  ``pos, vel [..., N, 3]``,
    ``charges [..., N]`` (broadcast over leading dims) -> ``[...]``."""
    diff = pos[..., :, None, :] - pos[..., None, :, :]
    dist = diff.square().sum(-1).clamp_min(1e-24).sqrt()
    n = pos.shape[-2]
    upper = torch.triu(torch.ones(n, n, dtype=torch.bool, device=pos.device), diagonal=1)
    pair = charges[..., :, None] * charges[..., None, :] / dist
    potential = strength * torch.where(upper, pair, torch.zeros_like(pair)).sum((-1, -2))
    return 0.5 * vel.square().sum((-1, -2)) + potential


def initial_state(num_systems: int, cfg: NBodyConfig, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """(pos ``[S, N, 3]``, vel ``[S, N, 3]``, charges ``[S, N]``) drawn as in the reference (float64)."""
    n = cfg.num_particles
    loc_std = cfg.loc_std * (n / 5.0) ** (1.0 / 3.0)
    charges = torch.where(torch.rand(num_systems, n, generator=generator, dtype=torch.float64) < 0.5, -1.0, 1.0)
    pos = loc_std * torch.randn(num_systems, n, 3, generator=generator, dtype=torch.float64)
    vel = torch.randn(num_systems, n, 3, generator=generator, dtype=torch.float64)
    vel = cfg.vel_norm * vel / vel.norm(dim=-1, keepdim=True)
    return pos, vel, charges.to(torch.float64)


def integrate(pos: Tensor, vel: Tensor, charges: Tensor, cfg: NBodyConfig,
              progress: Progress | None = None, task: int | None = None) -> tuple[Tensor, Tensor]:
    """Run the kick-drift integrator; returns saved (pos, vel), each ``[S, T, N, 3]``.

    v <- v + dt F(x_0); then for i = 1 .. steps - 1: x <- x + dt v, save every ``sample_every``, v <- v + dt F(x).
    """
    def force(x: Tensor) -> Tensor:
        return coulomb_forces(x, charges, cfg.interaction_strength).clamp(-cfg.max_force, cfg.max_force)

    pos, vel = pos.clone(), vel.clone()
    saved_pos, saved_vel = [], []
    vel = vel + cfg.dt * force(pos)
    for i in range(1, cfg.steps):
        pos = pos + cfg.dt * vel
        if i % cfg.sample_every == 0 and len(saved_pos) < cfg.num_frames:
            saved_pos.append(pos)
            saved_vel.append(vel)
        vel = vel + cfg.dt * force(pos)
        if progress is not None and task is not None and i % cfg.sample_every == 0:
            progress.advance(task, cfg.sample_every)
    return torch.stack(saved_pos, 1), torch.stack(saved_vel, 1)


def simulate_nbody(num_systems: int, seed: int, cfg: NBodyConfig = NBodyConfig(), *, chunk: int = 2000,
                   show_progress: bool = True) -> NBodyData:
    """Simulate ``num_systems`` systems, deterministic in ``seed`` (float64 integration, float32 output).

    Systems are integrated ``chunk`` at a time (all vectorised); a rich progress bar counts steps.
    """
    if num_systems < 1:
        raise DataError(f"must be >= 1, got {num_systems}", field="num_systems")
    generator = torch.Generator().manual_seed(seed)
    pos0, vel0, charges = initial_state(num_systems, cfg, generator)
    out_pos, out_vel = [], []
    with Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"n-body ({num_systems} systems)", total=cfg.steps * -(-num_systems // chunk))
        for start in range(0, num_systems, chunk):
            sl = slice(start, start + chunk)
            p, v = integrate(pos0[sl], vel0[sl], charges[sl], cfg, progress, task)
            out_pos.append(p)
            out_vel.append(v)
    return NBodyData(torch.cat(out_pos).float(), torch.cat(out_vel).float(), charges.float())


def load_nbody(num_systems: int, seed: int, cfg: NBodyConfig = NBodyConfig(), *,
               show_progress: bool = True) -> NBodyData:
    """:func:`simulate_nbody`, cached on disk under the hash of its arguments."""
    key = {"format": _CACHE_FORMAT, "num": num_systems, "seed": seed, **asdict(cfg)}
    payload = cached_simulation("nbody", "charged", key,
                                lambda: vars(simulate_nbody(num_systems, seed, cfg, show_progress=show_progress)))
    return NBodyData(payload["pos"], payload["vel"], payload["charges"])
