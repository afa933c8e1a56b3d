"""Procedural multi-view object dataset for multiview generation: textured primitives as 3D Gaussians,
rendered by the repo's rasterizer from random cameras. Deterministic by seed, cached.

Each object is 1 to ``max_parts`` primitives (sphere, box, cylinder surfaces) with random half-extents,
rotation and offset, coloured by a two-colour stripe texture along a random direction, normalised to fit
the unit ball. Its surface is sampled with ``gaussians_per_part`` isotropic Gaussians (scale from the local
point density, opacity 0.95). Cameras look at the origin from distance ``radius`` with elevation in
[-20, 60] degrees (world +z up), OpenCV world-to-camera, horizontal field of view ``fov`` radians, white
background. Object ``i`` of a dataset uses the generator seeded with ``(seed, i)``, so datasets of different
sizes share their first objects.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from genforge.core.geometry.rotations import quaternion_to_matrix, random_quaternions
from genforge.core.render import Cameras, Gaussians, intrinsics_from_fov, look_at, render_gaussians, rgb_to_sh
from genforge.datasets.storage import cache_dir, load_cache, save_cache

PRIMITIVES = ("sphere", "box", "cylinder")


@dataclass(frozen=True)
class ObjectsConfig:
    """Recipe of the procedural dataset (image ``size`` in pixels, ``views`` per object)."""

    size: int = 32
    views: int = 8
    max_parts: int = 3
    gaussians_per_part: int = 400
    fov: float = 0.8
    radius: float = 2.6
    seed: int = 0


@dataclass
class ObjectViews:
    """``O`` objects seen from ``V`` cameras each.

    Shapes: ``images [O, V, 3, H, W]`` in [0, 1] (white background), ``alphas [O, V, 1, H, W]``,
    ``viewmats [O, V, 4, 4]`` (OpenCV world-to-camera), ``Ks [3, 3]`` shared intrinsics.
    """

    images: Tensor
    alphas: Tensor
    viewmats: Tensor
    Ks: Tensor

    def cameras(self, index: int) -> Cameras:
        """The ``V`` cameras of object ``index``."""
        views = self.viewmats.shape[1]
        size = self.images.shape[-1]
        return Cameras(self.viewmats[index], self.Ks[None].expand(views, 3, 3).clone(), size, size)


def _surface(kind: str, n: int, generator: torch.Generator) -> Tensor:
    """``n`` points on the unit primitive's surface ``[n, 3]`` (sphere radius 1, box / cylinder [-1, 1])."""
    if kind == "sphere":
        points = torch.randn(n, 3, generator=generator)
        return points / points.norm(dim=-1, keepdim=True)
    if kind == "box":
        points = torch.rand(n, 3, generator=generator) * 2 - 1
        axis = torch.randint(0, 3, (n,), generator=generator)
        sign = torch.randint(0, 2, (n,), generator=generator) * 2 - 1
        points[torch.arange(n), axis] = sign.float()
        return points
    angle = torch.rand(n, generator=generator) * 2 * math.pi
    height = torch.rand(n, generator=generator) * 2 - 1
    cap = torch.rand(n, generator=generator) < 1 / 3
    radial = torch.where(cap, torch.rand(n, generator=generator).sqrt(), torch.ones(n))
    height = torch.where(cap, torch.sign(height), height)
    return torch.stack([radial * torch.cos(angle), radial * torch.sin(angle), height], dim=-1)


def random_object(cfg: ObjectsConfig, generator: torch.Generator) -> Gaussians:
    """One textured object as Gaussians (SH degree 0), inside the unit ball."""
    parts = int(torch.randint(1, cfg.max_parts + 1, (1,), generator=generator))
    points, colours = [], []
    for _ in range(parts):
        kind = PRIMITIVES[int(torch.randint(len(PRIMITIVES), (1,), generator=generator))]
        local = _surface(kind, cfg.gaussians_per_part, generator) * (0.2 + 0.4 * torch.rand(3, generator=generator))
        rotation = quaternion_to_matrix(random_quaternions(1, generator)[0])
        part = local @ rotation.mT + 0.3 * torch.randn(3, generator=generator)
        base, accent = torch.rand(2, 3, generator=generator)
        direction = torch.randn(3, generator=generator)
        frequency = 2.0 + 6.0 * float(torch.rand(1, generator=generator))
        stripe = (torch.sin(frequency * local @ (direction / direction.norm())) > 0).float()[:, None]
        points.append(part)
        colours.append(stripe * base + (1 - stripe) * accent)
    means = torch.cat(points)
    means = (means - means.mean(0)) / means.norm(dim=-1).max().clamp_min(1e-6)
    n = means.shape[0]
    nearest = torch.cdist(means, means).topk(4, largest=False).values[:, 1:].mean(-1)
    quats = torch.zeros(n, 4)
    quats[:, 0] = 1.0
    return Gaussians(means, quats, nearest.clamp(1e-3, 0.2).log()[:, None].expand(n, 3).clone(),
                     torch.full((n,), math.log(0.95 / 0.05)), rgb_to_sh(torch.cat(colours))[:, None])


def random_viewmats(cfg: ObjectsConfig, generator: torch.Generator) -> Tensor:
    """``[views, 4, 4]`` cameras at distance ``radius`` looking at the origin (elevation -20..60 degrees)."""
    azimuth = torch.rand(cfg.views, generator=generator) * 2 * math.pi
    elevation = torch.deg2rad(-20 + 80 * torch.rand(cfg.views, generator=generator))
    eyes = cfg.radius * torch.stack([torch.cos(elevation) * torch.cos(azimuth),
                                     torch.cos(elevation) * torch.sin(azimuth), torch.sin(elevation)], dim=-1)
    return look_at(eyes, torch.zeros(3), torch.tensor([0.0, 0.0, 1.0]))


def render_object(gaussians: Gaussians, cameras: Cameras) -> tuple[Tensor, Tensor]:
    """Images ``[V, 3, H, W]`` (white background) and alphas ``[V, 1, H, W]``."""
    with torch.no_grad():
        out = render_gaussians(gaussians, cameras, background=torch.ones(3), backend="torch")
    return out.image.clamp(0, 1), out.alpha


def generate_objects(num: int, cfg: ObjectsConfig, start: int = 0) -> ObjectViews:
    """Objects ``start .. start + num - 1`` rendered from their own random cameras."""
    Ks = intrinsics_from_fov(cfg.fov, cfg.size, cfg.size)
    images, alphas, viewmats = [], [], []
    for index in range(start, start + num):
        generator = torch.Generator().manual_seed(cfg.seed * 1_000_003 + index)
        scene = random_object(cfg, generator)
        views = random_viewmats(cfg, generator)
        image, alpha = render_object(scene, Cameras(views, Ks[None].expand(cfg.views, 3, 3).clone(), cfg.size,
                                                    cfg.size))
        images.append(image)
        alphas.append(alpha)
        viewmats.append(views)
    return ObjectViews(torch.stack(images), torch.stack(alphas), torch.stack(viewmats), Ks)


def load_objects(num: int, cfg: ObjectsConfig, start: int = 0, *, cache: bool = True) -> ObjectViews:
    """:func:`generate_objects`, read from / written to the data cache (keyed by the recipe and range)."""
    key = hashlib.sha256(json.dumps({**asdict(cfg), "num": num, "start": start}).encode()).hexdigest()[:16]
    path = cache_dir() / "splat_objects" / f"{key}.pt"
    stored = load_cache(path) if cache else None
    if stored is not None:
        return ObjectViews(**stored)
    views = generate_objects(num, cfg, start)
    if cache:
        save_cache(path, asdict(views))
    return views
