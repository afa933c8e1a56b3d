r"""CT-like procedural abdomen / pelvis volumes, deterministic by seed: the slice prior's training distribution
for real CT (the Shepp-Logan / ellipsoid phantoms of :mod:`genforge.datasets.phantoms` look nothing like a body).

Values are CT-window units u = (HU + 1000) / 2000 (window [-1000, 1000] HU, as the benchmark maps the real CT):
air 0, fat ~0.45, soft tissue ~0.52, contrast vessels ~0.6, cancellous bone ~0.65, cortical bone ~0.9.
A volume ``[D, H, W]`` (D axial, coordinates in [-1, 1] on every axis) holds, painted in this order:

* a body cross-section (elliptic cylinder whose semi-axes drift with z, boundary perturbed by smooth noise,
  often wider than the field of view) of subcutaneous fat, a muscle wall, and visceral fat inside;
* 3 - 7 organ ellipsoids (soft-tissue values), bowel loops (thresholded smooth noise) with gas pockets;
* aorta and vena cava (z-continuous tubes), the spine (vertebral bodies with cortical rims and discs, canal,
  spinous process, paraspinal muscles), optionally iliac wings (tilted cortical shells) and ribs;
* a fine soft-tissue texture; finally random flips of the in-plane axes.

Everything is evaluated for the whole grid at once (no loops over voxels).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genforge.datasets.phantoms import grid_coordinates, smooth_noise

FAT, MUSCLE, AIR = 0.45, 0.525, 0.0


def _u(generator: torch.Generator, low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator, dtype=torch.float64))


def _drift(z: Tensor, generator: torch.Generator, base: float, spread: float) -> Tensor:
    """A smooth random profile along z: ``base * (1 + spread * (a z + b z^2))`` with a, b in [-1, 1]."""
    a, b = _u(generator, -1.0, 1.0), _u(generator, -1.0, 1.0)
    return base * (1.0 + spread * (a * z + b * z * z))


def _inside(x: Tensor, y: Tensor, cx: Tensor | float, cy: Tensor | float, ax: Tensor | float,
            ay: Tensor | float) -> Tensor:
    """Normalised elliptic radius ``[D, H, W]`` (< 1 inside)."""
    return ((x - cx) / ax).square() + ((y - cy) / ay).square()


def _spine(x: Tensor, y: Tensor, z: Tensor, volume: Tensor, cy: float, generator: torch.Generator) -> Tensor:
    """Vertebral bodies (cancellous core, cortical rim, discs), canal, spinous process, paraspinal muscles."""
    radius = _u(generator, 0.11, 0.15)
    period = _u(generator, 0.18, 0.26)
    phase = _u(generator, 0.0, 1.0)
    disc = torch.remainder(z / period + phase, 1.0) < 0.22
    r = _inside(x, y, 0.0, cy, radius * 1.1, radius).sqrt()
    muscle_offset = radius * _u(generator, 1.3, 1.8)
    for side in (-1.0, 1.0):
        volume = torch.where(_inside(x, y, side * muscle_offset, cy - radius * 1.6, radius * 1.1, radius * 1.2) < 1,
                             MUSCLE + 0.005, volume)
    cortical = _u(generator, 0.8, 0.95)
    volume = torch.where((r < 1) & ~disc, torch.where(r > 0.8, cortical, _u(generator, 0.6, 0.68)), volume)
    volume = torch.where((r < 1) & disc, 0.53, volume)
    canal_y = cy - radius * 1.55
    volume = torch.where(_inside(x, y, 0.0, canal_y, radius * 0.7, radius * 0.65) < 1, 0.505, volume)
    arch = _inside(x, y, 0.0, canal_y, radius * 1.05, radius * 1.0).sqrt()
    volume = torch.where((arch < 1) & (arch > 0.7) & ~disc, cortical, volume)
    process = _inside(x, y, 0.0, canal_y - radius * 1.3, radius * 0.22, radius * 0.6) < 1
    return torch.where(process & ~disc, cortical, volume)


def _iliac(x: Tensor, y: Tensor, z: Tensor, volume: Tensor, body: tuple[float, float],
           generator: torch.Generator) -> Tensor:
    """Two iliac wings: tilted elliptic shells (cancellous inside, cortical rim), fading in along z."""
    ax_body, ay_body = body
    cortical, cancellous = _u(generator, 0.8, 0.95), _u(generator, 0.6, 0.66)
    start = _u(generator, -0.6, 0.4)
    present = z > start
    for side in (-1.0, 1.0):
        angle = side * _u(generator, 0.5, 1.1)
        cx = side * ax_body * _u(generator, 0.45, 0.6) + 0.15 * side * (z - start)
        cy = -ay_body * _u(generator, 0.05, 0.35)
        xr = (x - cx) * math.cos(angle) + (y - cy) * math.sin(angle)
        yr = -(x - cx) * math.sin(angle) + (y - cy) * math.cos(angle)
        r = ((xr / (ay_body * _u(generator, 0.3, 0.5))).square() + (yr / _u(generator, 0.08, 0.14)).square()).sqrt()
        volume = torch.where(present & (r < 1), torch.where(r > 0.6, cortical, cancellous), volume)
    return volume


def _ribs(x: Tensor, y: Tensor, z: Tensor, volume: Tensor, body: tuple[Tensor, Tensor], cy: float,
          generator: torch.Generator) -> Tensor:
    """6 - 12 small cortical cross-sections along the inner body wall, in z bands (rib crossings)."""
    count = int(torch.randint(6, 13, (1,), generator=generator))
    angles = torch.rand(count, generator=generator, dtype=torch.float64) * 2 * math.pi
    shift = torch.rand(count, generator=generator, dtype=torch.float64)
    ax, ay = body
    for angle, offset in zip(angles.tolist(), shift.tolist(), strict=True):
        band = torch.remainder(z * 3.0 + offset, 1.0) < 0.45
        cx = 0.85 * ax * math.cos(angle)
        cyy = cy + 0.85 * ay * math.sin(angle)
        volume = torch.where(band & (_inside(x, y, cx, cyy, 0.035, 0.035) < 1), 0.85, volume)
    return volume


def body_phantom(shape: tuple[int, int, int], seed: int) -> Tensor:
    """One CT-like abdomen volume ``[D, H, W]`` float32 in [0, 1] (CT window units) from ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    x, y, z = grid_coordinates(shape).unbind(-1)
    ax = _drift(z, generator, _u(generator, 0.85, 1.15), 0.1)
    ay = _drift(z, generator, _u(generator, 0.6, 0.85), 0.1)
    cy = _u(generator, -0.05, 0.1)
    edge = 1.0 + 0.03 * smooth_noise(shape, 3.0, generator)
    r = _inside(x, y, 0.0, cy, ax, ay).sqrt() / edge
    fat_layer = _u(generator, 0.06, 0.22)
    wall = fat_layer + _u(generator, 0.04, 0.09)
    volume = torch.full(shape, AIR, dtype=torch.float64)
    volume = torch.where(r < 1, FAT + _u(generator, -0.01, 0.01), volume)
    volume = torch.where(r < 1 - fat_layer, MUSCLE, volume)
    visceral = r < 1 - wall
    volume = torch.where(visceral, FAT + _u(generator, -0.01, 0.015), volume)
    organs = int(torch.randint(3, 8, (1,), generator=generator))
    inner_ax, inner_ay = (1 - wall) * ax, (1 - wall) * ay
    for _ in range(organs):
        cx_o, cy_o = _u(generator, -0.6, 0.6) * inner_ax, cy + _u(generator, -0.4, 0.6) * inner_ay
        cz, az = _u(generator, -1.0, 1.0), _u(generator, 0.3, 1.2)
        axes = (_u(generator, 0.1, 0.4) * inner_ax, _u(generator, 0.1, 0.35) * inner_ay)
        inside = (_inside(x, y, cx_o, cy_o, *axes) + ((z - cz) / az).square()) < 1
        volume = torch.where(visceral & inside, _u(generator, 0.5, 0.56), volume)
    bowel = smooth_noise(shape, _u(generator, 3.0, 5.0), generator) > _u(generator, 0.3, 1.0)
    volume = torch.where(visceral & bowel, _u(generator, 0.5, 0.53), volume)
    gas = smooth_noise(shape, _u(generator, 2.5, 4.0), generator) > _u(generator, 1.5, 2.5)
    volume = torch.where(visceral & bowel & gas, AIR, volume)
    spine_y = cy - float(ay.mean()) * _u(generator, 0.45, 0.6)
    for side, value in ((-1.0, _u(generator, 0.56, 0.65)), (1.0, _u(generator, 0.52, 0.56))):
        cx_v = side * _u(generator, 0.08, 0.16)
        size = _u(generator, 0.04, 0.07)
        volume = torch.where(_inside(x, y, cx_v, spine_y + _u(generator, 0.18, 0.26), size, size) < 1, value,
                             volume)
    volume = _spine(x, y, z, volume, spine_y, generator)
    if _u(generator, 0.0, 1.0) < 0.5:
        volume = _iliac(x, y, z, volume, (float(ax.mean()), float(ay.mean())), generator)
    if _u(generator, 0.0, 1.0) < 0.5:
        volume = _ribs(x, y, z, volume, (ax, ay), cy, generator)
    texture = _u(generator, 0.003, 0.01) * smooth_noise(shape, _u(generator, 10.0, 20.0), generator)
    volume = torch.where(volume > 0.3, volume + texture, volume)
    flips = [axis for axis, flip in ((1, _u(generator, 0, 1) < 0.5), (2, _u(generator, 0, 1) < 0.5)) if flip]
    if flips:
        volume = volume.flip(flips)
    return volume.clamp(0.0, 1.0).to(torch.float32)


def body_volumes(count: int, shape: tuple[int, int, int], seed: int) -> Tensor:
    """``count`` body volumes ``[count, D, H, W]``; volume i uses seed ``seed * 100003 + i`` (sets with different
    seeds do not overlap)."""
    return torch.stack([body_phantom(shape, seed * 100_003 + i) for i in range(count)])
