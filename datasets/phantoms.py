r"""Procedural 3-D volumes for medical inverse problems, deterministic by seed.

Two families, both ``[D, H, W]`` float32 in [0, 1] with D the axial (z) axis and coordinates normalised
to [-1, 1] on every axis:

* randomised 3-D Shepp-Logan: the modified 3-D Shepp-Logan head (Kak & Slaney's ellipsoids with Toft's
  higher-contrast intensities), each ellipsoid's centre, semi-axes and intensity jittered, the whole head
  scaled, shifted and rotated about the axial axis;
* textured ellipsoid volumes: a body ellipsoid holding 4 - 12 randomly rotated inner ellipsoids of random
  intensity, multiplied by a smooth random texture (low-pass filtered Gaussian noise), so that piecewise
  constant (TV) models are not trivially exact.

Every ellipsoid is evaluated for the whole grid in one broadcast: ``[E, D, H, W]``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

SHEPP_LOGAN_3D = torch.tensor([
    # intensity, semi-axes (a, b, c) along (x, y, z), centre (x, y, z), rotation about z (degrees)
    [1.0, 0.6900, 0.920, 0.810, 0.00, 0.0000, 0.00, 0.0],
    [-0.8, 0.6624, 0.874, 0.780, 0.00, -0.0184, 0.00, 0.0],
    [-0.2, 0.1100, 0.310, 0.220, 0.22, 0.0000, 0.00, -18.0],
    [-0.2, 0.1600, 0.410, 0.280, -0.22, 0.0000, 0.00, 18.0],
    [0.1, 0.2100, 0.250, 0.410, 0.00, 0.3500, -0.15, 0.0],
    [0.1, 0.0460, 0.046, 0.050, 0.00, 0.1000, 0.25, 0.0],
    [0.1, 0.0460, 0.046, 0.050, 0.00, -0.1000, 0.25, 0.0],
    [0.1, 0.0460, 0.023, 0.050, -0.08, -0.6050, 0.00, 0.0],
    [0.1, 0.0230, 0.023, 0.020, 0.00, -0.6060, 0.00, 0.0],
    [0.1, 0.0230, 0.046, 0.020, 0.06, -0.6050, 0.00, 0.0],
], dtype=torch.float64)
"""Modified 3-D Shepp-Logan ellipsoids ``[10, 8]``; rows as in the comment, coordinates in [-1, 1]."""

KINDS = ("shepp_logan", "ellipsoids")


def grid_coordinates(shape: tuple[int, int, int]) -> Tensor:
    """Voxel-centre coordinates ``[D, H, W, 3]`` as (x, y, z) in [-1, 1] (x along W, y along H, z along D)."""
    axes = [torch.linspace(-1.0, 1.0, n, dtype=torch.float64) if n > 1 else torch.zeros(1, dtype=torch.float64)
            for n in shape]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([x, y, z], dim=-1)


def _rotation_matrices(angles: Tensor) -> Tensor:
    """Rotations ``[E, 3, 3]`` from ZYX Euler angles ``[E, 3]`` (radians)."""
    cz, cy, cx = torch.cos(angles).unbind(-1)
    sz, sy, sx = torch.sin(angles).unbind(-1)
    one, zero = torch.ones_like(cz), torch.zeros_like(cz)
    rz = torch.stack([cz, -sz, zero, sz, cz, zero, zero, zero, one], -1).view(-1, 3, 3)
    ry = torch.stack([cy, zero, sy, zero, one, zero, -sy, zero, cy], -1).view(-1, 3, 3)
    rx = torch.stack([one, zero, zero, zero, cx, -sx, zero, sx, cx], -1).view(-1, 3, 3)
    return rz @ ry @ rx


def render_ellipsoids(shape: tuple[int, int, int], intensity: Tensor, axes: Tensor, centre: Tensor,
                      rotation: Tensor, texture: Tensor | None = None) -> Tensor:
    """Sum of ``intensity_e * 1[inside ellipsoid e]`` on the grid ``[D, H, W]`` (float64).

    Args:
        intensity: ``[E]`` values added inside each ellipsoid.
        axes: ``[E, 3]`` semi-axes along the ellipsoid's own x, y, z (normalised units).
        centre: ``[E, 3]`` centres (x, y, z).
        rotation: ``[E, 3, 3]`` rotations taking ellipsoid axes to grid axes.
        texture: optional ``[E, D, H, W]`` multiplicative texture per ellipsoid.
    """
    coords = grid_coordinates(shape)
    local = torch.einsum("dhwi,eij->edhwj", coords, rotation) - torch.einsum("ei,eij->ej", centre, rotation)[
        :, None, None, None]
    inside = ((local / axes[:, None, None, None]).square().sum(-1) <= 1.0).to(torch.float64)
    if texture is not None:
        inside = inside * texture
    return torch.einsum("e,edhw->dhw", intensity, inside)


def smooth_noise(shape: tuple[int, ...], cutoff: float, generator: torch.Generator) -> Tensor:
    """Gaussian noise ``shape`` low-pass filtered in Fourier space (Gaussian of width ``cutoff`` cycles per
    unit length on [-1, 1]), scaled to unit standard deviation along the last three axes."""
    noise = torch.randn(shape, generator=generator, dtype=torch.float64)
    freqs = [torch.fft.fftfreq(n, d=2.0 / n, dtype=torch.float64) for n in shape[-3:]]
    kz, ky, kx = torch.meshgrid(*freqs, indexing="ij")
    window = torch.exp(-(kx.square() + ky.square() + kz.square()) / (2.0 * cutoff ** 2))
    field = torch.fft.ifftn(torch.fft.fftn(noise, dim=(-3, -2, -1)) * window, dim=(-3, -2, -1)).real
    field = field - field.mean(dim=(-3, -2, -1), keepdim=True)
    return field / field.std(dim=(-3, -2, -1), keepdim=True).clamp_min(1e-12)


def _uniform(generator: torch.Generator, low: float, high: float, *shape: int) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator, dtype=torch.float64)


def shepp_logan(shape: tuple[int, int, int], generator: torch.Generator | None = None) -> Tensor:
    """A 3-D Shepp-Logan head ``[D, H, W]`` in [0, 1]; the exact modified phantom when ``generator`` is None."""
    table = SHEPP_LOGAN_3D.clone()
    n = table.shape[0]
    if generator is not None:
        table[:, 0] *= torch.cat([torch.ones(2, dtype=torch.float64), _uniform(generator, 0.5, 2.0, n - 2)])
        shell = torch.tensor([0, 0, *range(1, n - 1)])  # skull and brain share one perturbation
        table[:, 1:4] *= _uniform(generator, 0.85, 1.15, n - 1, 3)[shell]
        table[:, 4:7] += _uniform(generator, -0.03, 0.03, n - 1, 3)[shell] * (shell > 0)[:, None]
        table[:, 7] += _uniform(generator, -15.0, 15.0, n - 1)[shell] * (shell > 0)
        table[:, 1:7] *= _uniform(generator, 0.8, 1.05, 1)
        table[:, 4:6] += _uniform(generator, -0.08, 0.08, 1, 2)
        spin = float(_uniform(generator, -math.pi / 6, math.pi / 6, 1))
        cos, sin = math.cos(spin), math.sin(spin)
        x, y = table[:, 4].clone(), table[:, 5].clone()
        table[:, 4], table[:, 5] = cos * x - sin * y, sin * x + cos * y
        table[:, 7] += math.degrees(spin)
    angles = torch.zeros(n, 3, dtype=torch.float64)
    angles[:, 0] = torch.deg2rad(table[:, 7])
    volume = render_ellipsoids(shape, table[:, 0], table[:, 1:4], table[:, 4:7], _rotation_matrices(angles))
    return volume.clamp(0.0, 1.0).to(torch.float32)


def textured_ellipsoids(shape: tuple[int, int, int], generator: torch.Generator) -> Tensor:
    """A body ellipsoid with 4 - 12 inner ellipsoids and smooth texture, ``[D, H, W]`` in [0, 1]."""
    count = int(torch.randint(4, 13, (1,), generator=generator))
    body_axes = _uniform(generator, 0.65, 0.92, 1, 3)
    inner_axes = _uniform(generator, 0.06, 0.35, count, 3)
    inner_centre = _uniform(generator, -0.5, 0.5, count, 3) * body_axes
    axes = torch.cat([body_axes, inner_axes])
    centre = torch.cat([_uniform(generator, -0.05, 0.05, 1, 3), inner_centre])
    angles = torch.cat([torch.cat([_uniform(generator, -0.5, 0.5, 1, 1), torch.zeros(1, 2, dtype=torch.float64)],
                                  1), _uniform(generator, -math.pi, math.pi, count, 3)])
    body = _uniform(generator, 0.25, 0.5, 1)
    inner = _uniform(generator, -0.25, 0.55, count)
    texture = 1.0 + _uniform(generator, 0.04, 0.12, count + 1)[:, None, None, None] * smooth_noise(
        (count + 1, *shape), cutoff=float(_uniform(generator, 2.0, 5.0, 1)), generator=generator)
    volume = render_ellipsoids(shape, torch.cat([body, inner]), axes, centre, _rotation_matrices(angles), texture)
    return volume.clamp(0.0, 1.0).to(torch.float32)


def phantom(kind: str, shape: tuple[int, int, int], seed: int) -> Tensor:
    """One procedural volume ``[D, H, W]`` of ``kind`` (``shepp_logan`` or ``ellipsoids``) from ``seed``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    generator = torch.Generator().manual_seed(seed)
    if kind == "shepp_logan":
        return shepp_logan(shape, generator)
    return textured_ellipsoids(shape, generator)


def phantom_volumes(count: int, shape: tuple[int, int, int], seed: int) -> Tensor:
    """``count`` volumes ``[count, D, H, W]``, alternating Shepp-Logan variants and textured ellipsoids;
    volume i uses seed ``seed * 100003 + i`` so sets with different seeds do not overlap."""
    return torch.stack([phantom(KINDS[i % 2], shape, seed * 100_003 + i) for i in range(count)])
