r"""2-D incompressible smoke in a box with exits, controlled indirectly by forces in the outer band (torch).

The WDNO / DiffPhyCon "indirect control" smoke task at a CPU size: smoke starts as a blob and keeps entering
from a source in the lower centre (both above the control band), rises by buoyancy, and leaves through
openings in the walls; the control is a force field that may act only in a band of ``band`` cells along the
walls (never on the central region where the smoke starts), and the objective is the fraction of all smoke
that leaves through the target exit.

Discretisation (unit square, n x n cells, dx = 1 / n; marker-and-cell grid, vectorised over trajectories):

* velocity on cell faces: u ``[B, n, n + 1]`` (x = i dx, y = (j + 1/2) dx), v ``[B, n + 1, n]``; density
  rho ``[B, n, n]`` at cell centres. Walls are no-through-flow faces (velocity 0); exit faces are open
  (pressure 0 outside).
* one step of size dt: (1) semi-Lagrangian self-advection of (u, v) (bilinear back-trace); (2) buoyancy
  ``buoyancy * rho`` on v and the control force (cell-centred, averaged to faces); (3) pressure
  projection ``u <- u - grad phi`` with ``div grad phi = div u`` (Neumann at walls, Dirichlet 0 at exits),
  solved *exactly* with a dense Cholesky-based inverse of the (n^2 x n^2) Laplacian computed once per
  geometry (divergence-free to round-off); (4) conservative flux-form first-order upwind advection of rho
  with the projected velocity, sub-cycled to a CFL number <= 0.4 (positive, exactly mass-conserving: what
  leaves through each exit face is counted); (5) the source adds ``source_rate dt`` in its cells.

Semi-Lagrangian advection is used for the velocity (stable at any dt); the smoke uses flux form so that
"smoke through the target exit" is exact bookkeeping rather than an estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from genforge.datasets.simulation_cache import simulate_in_chunks
from genforge.datasets.storage import cache_dir, load_cache, save_cache

WALLS = ("left", "right", "bottom", "top")
_FORMAT = 1


@dataclass(frozen=True)
class SmokeConfig:
    """Geometry and time stepping of the smoke box.

    Args:
        n: cells per side.
        frames: stored frames after the initial state (the control is constant over each frame).
        substeps: solver steps per frame.
        t_end: physical time of the last frame.
        buoyancy: upward force per unit density.
        source_rate: density added per unit time in each source cell.
        source: source cells ``(i0, i1, j0, j1)`` (columns i0..i1-1, rows j0..j1-1; row 0 is the bottom).
        exits: openings ``(wall, start, stop)``: cells start..stop-1 along ``wall`` (one of :data:`WALLS`).
        target_exit: index into ``exits`` of the exit whose smoke fraction is the objective.
        band: width in cells of the outer band where control forces may act.
    """

    n: int = 32
    frames: int = 32
    substeps: int = 4
    t_end: float = 3.0
    buoyancy: float = 4.0
    source_rate: float = 1.0
    source: tuple[int, int, int, int] = (14, 18, 9, 11)
    exits: tuple[tuple[str, int, int], ...] = (("top", 13, 19), ("left", 22, 28), ("right", 22, 28))
    target_exit: int = 0
    band: int = 8

    @property
    def dx(self) -> float:
        """Cell size."""
        return 1.0 / self.n

    @property
    def dt(self) -> float:
        """Solver step."""
        return self.t_end / (self.frames * self.substeps)

    def validate(self) -> None:
        """ValueError for an inconsistent geometry."""
        for wall, start, stop in self.exits:
            if wall not in WALLS or not 0 <= start < stop <= self.n:
                raise ValueError(f"exit {(wall, start, stop)} must be (one of {WALLS}, 0 <= start < stop <= {self.n})")
        if self.exits and not 0 <= self.target_exit < len(self.exits):
            raise ValueError(f"target_exit {self.target_exit} is not an index into {len(self.exits)} exits")
        if not 0 < 2 * self.band < self.n:
            raise ValueError(f"band {self.band} must be in (0, n / 2)")


def scaled_config(n: int = 32, frames: int = 32, **changes: float) -> SmokeConfig:
    """The default 32 x 32 layout (source, exits, band) scaled to ``n`` cells per side, with ``frames`` frames."""
    base = SmokeConfig()

    def scale(cells: int) -> int:
        return round(cells * n / base.n)

    return replace(base, n=n, frames=frames, source=tuple(scale(c) for c in base.source),
                   exits=tuple((wall, scale(a), scale(b)) for wall, a, b in base.exits), band=scale(base.band),
                   **changes)


@lru_cache(maxsize=8)
def face_masks(cfg: SmokeConfig) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(open u faces ``[n, n+1]``, open v faces ``[n+1, n]``, exit id of u faces, of v faces; -1 = none).

    Cached per geometry: treat the returned tensors as read-only."""
    n = cfg.n
    u_exit = torch.full((n, n + 1), -1, dtype=torch.long)
    v_exit = torch.full((n + 1, n), -1, dtype=torch.long)
    for k, (wall, start, stop) in enumerate(cfg.exits):
        if wall == "left":
            u_exit[start:stop, 0] = k
        elif wall == "right":
            u_exit[start:stop, n] = k
        elif wall == "bottom":
            v_exit[0, start:stop] = k
        else:
            v_exit[n, start:stop] = k
    u_open = u_exit >= 0
    u_open[:, 1:n] = True
    v_open = v_exit >= 0
    v_open[1:n, :] = True
    return u_open, v_open, u_exit, v_exit


def control_mask(cfg: SmokeConfig) -> Tensor:
    """Bool ``[n, n]``: cells where the control force may act (within ``band`` cells of a wall)."""
    index = torch.arange(cfg.n)
    edge = torch.minimum(index, cfg.n - 1 - index)
    return (edge.view(-1, 1) < cfg.band) | (edge.view(1, -1) < cfg.band)


@lru_cache(maxsize=8)
def _inverse_laplacian(cfg: SmokeConfig, dtype: torch.dtype = torch.float64) -> Tensor:
    """``[n^2, n^2]`` inverse (computed in float64, returned as ``dtype``) of M = -dx^2 (Laplacian with Neumann
    walls, Dirichlet 0 exits); with no exit, of M + 1 1^T / n^2 (the zero-mean solution of the singular
    pure-Neumann problem)."""
    n = cfg.n
    u_open, v_open, _, _ = face_masks(cfg)
    cells = torch.arange(n * n).view(n, n)
    diag = (u_open[:, :-1].double() + u_open[:, 1:].double() + v_open[:-1].double() + v_open[1:].double()).flatten()
    matrix = torch.diag(diag)
    left, right = cells[:, :-1].flatten(), cells[:, 1:].flatten()       # interior u faces
    below, above = cells[:-1].flatten(), cells[1:].flatten()            # interior v faces
    for a, b in ((left, right), (below, above)):
        matrix[a, b] = -1.0
        matrix[b, a] = -1.0
    if not cfg.exits:
        matrix = matrix + 1.0 / (n * n)
    return torch.cholesky_inverse(torch.linalg.cholesky(matrix)).to(dtype)


def divergence(u: Tensor, v: Tensor, dx: float) -> Tensor:
    """Cell divergence ``[B, n, n]`` of face velocities u ``[B, n, n+1]``, v ``[B, n+1, n]``."""
    return (u[..., 1:] - u[..., :-1] + v[..., 1:, :] - v[..., :-1, :]) / dx


def project(u: Tensor, v: Tensor, cfg: SmokeConfig) -> tuple[Tensor, Tensor]:
    """Divergence-free (u, v): ``u - grad phi`` with ``div grad phi = div u`` (exact dense solve)."""
    n, dx = cfg.n, cfg.dx
    u_open, v_open, _, _ = face_masks(cfg)
    u, v = u * u_open.to(u), v * v_open.to(v)
    rhs = -divergence(u, v, dx).flatten(1) * dx * dx
    phi = (rhs @ _inverse_laplacian(cfg, rhs.dtype)).view(-1, n, n)      # M (and its inverse) symmetric
    zero_col, zero_row = phi.new_zeros(phi.shape[0], n, 1), phi.new_zeros(phi.shape[0], 1, n)
    grad_x = torch.diff(torch.cat([zero_col, phi, zero_col], dim=2), dim=2) / dx
    grad_y = torch.diff(torch.cat([zero_row, phi, zero_row], dim=1), dim=1) / dx
    return (u - grad_x) * u_open.to(u), (v - grad_y) * v_open.to(v)


def _sample(field: Tensor, x: Tensor, y: Tensor, x0: float, y0: float, dx: float) -> Tensor:
    """Bilinear samples of ``field`` ``[B, H, W]`` (node (j, i) at (x0 + i dx, y0 + j dx)) at (x, y), clamped."""
    height, width = field.shape[-2:]
    grid = torch.stack([2.0 * (x - x0) / ((width - 1) * dx) - 1.0, 2.0 * (y - y0) / ((height - 1) * dx) - 1.0], -1)
    return F.grid_sample(field.unsqueeze(1), grid, mode="bilinear", padding_mode="border", align_corners=True)[:, 0]


def advect_velocity(u: Tensor, v: Tensor, dt: float, dx: float) -> tuple[Tensor, Tensor]:
    """Semi-Lagrangian self-advection of the face velocities (bilinear back-trace over dt)."""
    n = u.shape[-2]
    v_cells = F.pad(v, (1, 1, 0, 0), mode="replicate")                   # [B, n+1, n+2]
    v_at_u = 0.25 * (v_cells[..., :-1, :-1] + v_cells[..., :-1, 1:] + v_cells[..., 1:, :-1] + v_cells[..., 1:, 1:])
    u_cells = F.pad(u, (0, 0, 1, 1), mode="replicate")                   # [B, n+2, n+1]
    u_at_v = 0.25 * (u_cells[..., :-1, :-1] + u_cells[..., :-1, 1:] + u_cells[..., 1:, :-1] + u_cells[..., 1:, 1:])
    index = torch.arange(n + 1, dtype=u.dtype)
    centre = (torch.arange(n, dtype=u.dtype) + 0.5) * dx
    ux, uy = index.view(1, -1) * dx, centre.view(-1, 1)                  # u-face positions [n, n+1]
    vx, vy = centre.view(1, -1), index.view(-1, 1) * dx                   # v-face positions [n+1, n]
    u_new = _sample(u, ux - dt * u, uy - dt * v_at_u, 0.0, 0.5 * dx, dx)
    v_new = _sample(v, vx - dt * u_at_v, vy - dt * v, 0.5 * dx, 0.0, dx)
    return u_new, v_new


def advect_density(rho: Tensor, u: Tensor, v: Tensor, dt: float, cfg: SmokeConfig) -> tuple[Tensor, Tensor]:
    """Flux-form upwind advection of rho, sub-cycled to CFL <= 0.4.

    Returns:
        (rho ``[B, n, n]``, smoke mass that left through each exit ``[B, len(exits)]``).
    """
    dx = cfg.dx
    _, _, u_exit, v_exit = face_masks(cfg)
    speed = float(torch.maximum(u.detach().abs().max(), v.detach().abs().max()))
    cycles = max(1, math.ceil(speed * dt / dx / 0.4))
    h = dt / cycles
    outflow = rho.new_zeros(rho.shape[0], len(cfg.exits))
    sign_u = torch.zeros_like(u_exit, dtype=rho.dtype)
    sign_u[:, 0], sign_u[:, -1] = -1.0, 1.0                              # outward normal of boundary faces
    sign_v = torch.zeros_like(v_exit, dtype=rho.dtype)
    sign_v[0], sign_v[-1] = -1.0, 1.0
    exit_u = [(u_exit == k).to(rho) * sign_u for k in range(len(cfg.exits))]
    exit_v = [(v_exit == k).to(rho) * sign_v for k in range(len(cfg.exits))]
    for _ in range(cycles):
        padded_x = F.pad(rho, (1, 1))
        padded_y = F.pad(rho, (0, 0, 1, 1))
        flux_x = torch.where(u > 0, padded_x[..., :-1], padded_x[..., 1:]) * u    # [B, n, n+1]
        flux_y = torch.where(v > 0, padded_y[..., :-1, :], padded_y[..., 1:, :]) * v
        rho = rho - h / dx * (flux_x[..., 1:] - flux_x[..., :-1] + flux_y[..., 1:, :] - flux_y[..., :-1, :])
        if cfg.exits:
            outflow = outflow + h * dx * torch.stack(
                [(flux_x * mu).sum((-2, -1)) + (flux_y * mv).sum((-2, -1)) for mu, mv in zip(exit_u, exit_v,
                                                                                         strict=True)], dim=1)
    return rho, outflow


def _to_faces(force: Tensor) -> tuple[Tensor, Tensor]:
    """Cell-centred force ``[B, 2, n, n]`` averaged to u faces ``[B, n, n+1]`` and v faces ``[B, n+1, n]``."""
    fx = F.pad(force[:, 0], (1, 1), mode="replicate")
    fy = F.pad(force[:, 1].unsqueeze(1), (0, 0, 1, 1), mode="replicate")[:, 0]
    return 0.5 * (fx[..., :-1] + fx[..., 1:]), 0.5 * (fy[..., :-1, :] + fy[..., 1:, :])


def source_mask(cfg: SmokeConfig) -> Tensor:
    """Float ``[n, n]``: 1 in the source cells."""
    i0, i1, j0, j1 = cfg.source
    mask = torch.zeros(cfg.n, cfg.n)
    mask[j0:j1, i0:i1] = 1.0
    return mask


def simulate(rho0: Tensor, control: Tensor | None, cfg: SmokeConfig) -> dict[str, Tensor]:
    """Run the smoke box from rest with initial density ``rho0`` ``[B, n, n]`` under ``control``.

    Args:
        rho0: initial density.
        control: force ``[B, frames, 2, n, n]`` (x, y components; zeroed outside :func:`control_mask`),
            constant over each frame, or None.
        cfg: geometry and time stepping.

    Returns:
        ``density [B, frames+1, n, n]``, ``velocity [B, frames+1, 2, n, n]`` (cell-centred averages of the
        face velocities), ``outflow [B, frames, exits]`` (smoke mass through each exit per frame),
        ``mass [B, frames+1]`` (smoke in the box), ``injected [B]`` (initial + source mass over the run),
        ``target_fraction [B]`` (target-exit outflow / injected).
    """
    cfg.validate()
    batch, n, dt, dx = rho0.shape[0], cfg.n, cfg.dt, cfg.dx
    u = rho0.new_zeros(batch, n, n + 1)
    v = rho0.new_zeros(batch, n + 1, n)
    rho = rho0
    band = control_mask(cfg).to(rho0)
    source = source_mask(cfg).to(rho0) * cfg.source_rate * dt
    densities, velocities, outflows, masses = [rho], [_cell_velocity(u, v)], [], [rho.sum((-2, -1)) * dx * dx]
    for frame in range(cfg.frames):
        fx, fy = _to_faces(control[:, frame] * band) if control is not None else (0.0, 0.0)
        out = rho.new_zeros(batch, len(cfg.exits))
        for _ in range(cfg.substeps):
            u, v = advect_velocity(u, v, dt, dx)
            rho_v = F.pad(rho.unsqueeze(1), (0, 0, 1, 1), mode="replicate")[:, 0]
            v = v + dt * (cfg.buoyancy * 0.5 * (rho_v[..., :-1, :] + rho_v[..., 1:, :]) + fy)
            u = u + dt * fx
            u, v = project(u, v, cfg)
            rho, leaving = advect_density(rho, u, v, dt, cfg)
            rho = rho + source
            out = out + leaving
        densities.append(rho)
        velocities.append(_cell_velocity(u, v))
        outflows.append(out)
        masses.append(rho.sum((-2, -1)) * dx * dx)
    outflow = torch.stack(outflows, dim=1) if cfg.exits else rho0.new_zeros(batch, cfg.frames, 0)
    injected = masses[0] + float(source.sum()) * dx * dx * cfg.frames * cfg.substeps
    target = outflow[..., cfg.target_exit].sum(1) / injected if cfg.exits else torch.zeros_like(injected)
    return {"density": torch.stack(densities, 1), "velocity": torch.stack(velocities, 1), "outflow": outflow,
            "mass": torch.stack(masses, 1), "injected": injected, "target_fraction": target}


def _cell_velocity(u: Tensor, v: Tensor) -> Tensor:
    return torch.stack([0.5 * (u[..., :-1] + u[..., 1:]), 0.5 * (v[..., :-1, :] + v[..., 1:, :])], dim=1)


def sample_initial(num: int, generator: torch.Generator, cfg: SmokeConfig) -> Tensor:
    """Initial density ``[num, n, n]``: a Gaussian blob, centre x ~ U[0.4, 0.6], y ~ U[0.3, 0.4] (above the
    control band), width U[0.04, 0.08], peak U[0.5, 1]."""
    centre = (torch.arange(cfg.n, dtype=torch.float64) + 0.5) / cfg.n

    def uniform(lo: float, hi: float) -> Tensor:
        return torch.rand(num, 1, 1, generator=generator, dtype=torch.float64) * (hi - lo) + lo

    cx, cy, width, peak = uniform(0.4, 0.6), uniform(0.3, 0.4), uniform(0.04, 0.08), uniform(0.5, 1.0)
    r2 = (centre.view(1, 1, -1) - cx) ** 2 + (centre.view(1, -1, 1) - cy) ** 2
    return peak * torch.exp(-0.5 * r2 / width ** 2)


def sample_controls(num: int, generator: torch.Generator, cfg: SmokeConfig, bumps: int = 4,
                    amplitude: float = 0.75) -> Tensor:
    """Random forces ``[num, frames, 2, n, n]`` in the band: per component, ``bumps`` space-time Gaussian bumps
    (centres U[0, 1]^3, widths U[0.1, 0.3] in space and U[0.2, 0.5] in normalised time, amplitudes
    U[-amplitude, amplitude]), zero outside :func:`control_mask`."""
    x = ((torch.arange(cfg.n, dtype=torch.float64) + 0.5) / cfg.n)
    t = ((torch.arange(cfg.frames, dtype=torch.float64) + 0.5) / cfg.frames).view(1, -1, 1, 1, 1)

    def uniform(lo: float, hi: float) -> Tensor:
        return torch.rand(num, 1, 2, 1, 1, generator=generator, dtype=torch.float64) * (hi - lo) + lo

    force = torch.zeros(num, cfg.frames, 2, cfg.n, cfg.n, dtype=torch.float64)
    for _ in range(bumps):
        amp, width, t_width = uniform(-amplitude, amplitude), uniform(0.1, 0.3), uniform(0.2, 0.5)
        cx, cy, ct = uniform(0.0, 1.0), uniform(0.0, 1.0), uniform(0.0, 1.0)
        space = torch.exp(-0.5 * ((x.view(1, 1, 1, 1, -1) - cx) ** 2 + (x.view(1, 1, 1, -1, 1) - cy) ** 2) / width ** 2)
        force = force + amp * space * torch.exp(-0.5 * (t - ct) ** 2 / t_width ** 2)
    return force * control_mask(cfg).to(force)


def generate(num: int, seed: int = 0, cfg: SmokeConfig | None = None, *, chunk: int = 64,
             progress: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """``num`` random trajectories (initial blob, random band controls), deterministic in (num, seed, cfg).

    Returns:
        :func:`simulate`'s fields plus ``control [num, frames, 2, n, n]``, float32.
    """
    cfg = cfg or SmokeConfig()
    generator = torch.Generator().manual_seed(seed)
    rho0 = sample_initial(num, generator, cfg)
    control = sample_controls(num, generator, cfg)
    parts = simulate_in_chunks(lambda rows: simulate(rho0[rows], control[rows], cfg), num, chunk, progress)
    out = {key: torch.cat([part[key] for part in parts]).float() for key in parts[0]} if parts else {}
    return {**out, "control": control.float()}


def cached_generate(num: int, seed: int = 0, cfg: SmokeConfig | None = None, *, cache: Path | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """:func:`generate` through the data cache (keyed by num, seed, a hash of the config and the format)."""
    import hashlib

    cfg = cfg or SmokeConfig()
    key = hashlib.sha1(repr(cfg).encode()).hexdigest()[:10]
    path = (cache or cache_dir()) / "smoke" / f"smoke_v{_FORMAT}_n{num}_s{seed}_{key}.pt"
    hit = load_cache(path)
    if hit is not None and "density" in hit:
        return hit
    data = generate(num, seed, cfg, progress=progress)
    save_cache(path, data)
    return data
