"""Per-pixel camera rays and the context-centred scene frame of the multiview model.

The scene frame of one example is the context camera's OpenCV frame (x right, y down, z forward) moved
along the optical axis by ``radius`` so that the looked-at point is the origin. The context camera is then
the pure translation ``T(0, 0, radius)`` and every other camera ``V_t V_c^-1 T(0, 0, radius)``: the model
never sees the dataset's world frame, so a single input image defines the frame.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def context_frame(viewmats: Tensor, context: Tensor, radius: float) -> Tensor:
    """Cameras ``viewmats [B, V, 4, 4]`` re-expressed in the frame of camera ``context [B]`` (see module)."""
    shift = torch.eye(4, dtype=viewmats.dtype, device=viewmats.device)
    shift[2, 3] = radius
    ctx = viewmats[torch.arange(viewmats.shape[0]), context]
    return viewmats @ torch.linalg.inv(ctx)[:, None] @ shift


def canonical_context(batch: int, radius: float, dtype: torch.dtype = torch.float32) -> Tensor:
    """The context camera in its own scene frame, ``T(0, 0, radius)`` ``[B, 4, 4]``."""
    view = torch.eye(4, dtype=dtype).repeat(batch, 1, 1)
    view[:, 2, 3] = radius
    return view


def pixel_rays(viewmats: Tensor, Ks: Tensor, size: int) -> tuple[Tensor, Tensor]:
    """World-space ray origins and unit directions ``[..., H * W, 3]`` through the pixel centres.

    Args:
        viewmats: world-to-camera ``[..., 4, 4]``.
        Ks: intrinsics ``[3, 3]`` shared by all cameras.
        size: image width = height in pixels.
    """
    coords = torch.arange(size, dtype=viewmats.dtype, device=viewmats.device) + 0.5
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")
    cam = torch.stack([(xs - Ks[0, 2]) / Ks[0, 0], (ys - Ks[1, 2]) / Ks[1, 1], torch.ones_like(xs)], -1)
    cam = cam.reshape(-1, 3)
    rotation = viewmats[..., :3, :3]
    origins = -(rotation.mT @ viewmats[..., :3, 3:]).squeeze(-1)
    directions = cam @ rotation
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return origins[..., None, :].expand_as(directions), directions


def plucker(viewmats: Tensor, Ks: Tensor, size: int) -> Tensor:
    """Plücker ray maps ``[..., 6, H, W]`` (unit direction, moment origin x direction) of the cameras."""
    origins, directions = pixel_rays(viewmats, Ks, size)
    rays = torch.cat([directions, torch.cross(origins, directions, dim=-1)], -1)
    return rays.mT.reshape(*viewmats.shape[:-2], 6, size, size)


def turntable_viewmats(num: int, radius: float, elevation: float = 0.0) -> Tensor:
    """``[num, 4, 4]`` cameras circling the scene-frame origin about the image-vertical (y) axis, starting at
    the context camera (azimuth 0) and tilted by ``elevation`` radians."""
    angles = torch.arange(num, dtype=torch.float32) * (2 * math.pi / num)
    cos, sin = torch.cos(angles), torch.sin(angles)
    spin = torch.eye(4).repeat(num, 1, 1)
    spin[:, 0, 0], spin[:, 0, 2], spin[:, 2, 0], spin[:, 2, 2] = cos, sin, -sin, cos
    tilt = torch.eye(4)
    tilt[1, 1] = tilt[2, 2] = math.cos(elevation)
    tilt[1, 2], tilt[2, 1] = -math.sin(elevation), math.sin(elevation)
    return canonical_context(num, radius) @ tilt @ spin
