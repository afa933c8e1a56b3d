"""Rotations of 3-D space: uniform sampling on SO(3) and quaternion / axis-angle conversions.

Conventions: a rotation matrix ``R [..., 3, 3]`` acts on column vectors, so row-stored points rotate as
``pos @ R.mT``. Quaternions are unit and ordered ``(w, x, y, z)`` (kornia's order); axis-angle vectors
are ``angle * unit_axis`` with the angle in radians. The conversions delegate to kornia, which is exact to
float64 round-off.
"""

from __future__ import annotations

import kornia.geometry.conversions as kornia_conversions
import torch
from torch import Tensor


def random_quaternions(n: int, generator: torch.Generator | None = None, *,
                       dtype: torch.dtype = torch.float32,
                       device: torch.device | str | None = None) -> Tensor:
    """``n`` unit quaternions ``[n, 4]`` uniform on S^3 (normalised Gaussians), hence uniform rotations.

    The sign is fixed to w >= 0 (q and -q are the same rotation).
    """
    q = torch.randn(n, 4, generator=generator, dtype=dtype, device=device)
    q = q / q.norm(dim=-1, keepdim=True)
    return torch.where(q[:, :1] < 0, -q, q)


def random_rotations(n: int, generator: torch.Generator | None = None, *, dtype: torch.dtype = torch.float32,
                     device: torch.device | str | None = None) -> Tensor:
    """``n`` rotation matrices ``[n, 3, 3]`` drawn from the Haar (uniform) measure on SO(3)."""
    return quaternion_to_matrix(random_quaternions(n, generator, dtype=dtype, device=device))


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """Unit quaternion ``[..., 4]`` (w, x, y, z) -> rotation matrix ``[..., 3, 3]``."""
    return kornia_conversions.quaternion_to_rotation_matrix(quaternion)


def matrix_to_quaternion(rotation: Tensor) -> Tensor:
    """Rotation matrix ``[..., 3, 3]`` -> unit quaternion ``[..., 4]`` (w, x, y, z), sign not normalised."""
    return kornia_conversions.rotation_matrix_to_quaternion(rotation)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Rotation vector ``[..., 3]`` (radians times unit axis) -> matrix ``[..., 3, 3]`` (Rodrigues)."""
    flat = axis_angle.reshape(-1, 3)
    return kornia_conversions.axis_angle_to_rotation_matrix(flat).reshape(*axis_angle.shape[:-1], 3, 3)


def matrix_to_axis_angle(rotation: Tensor) -> Tensor:
    """Rotation matrix ``[..., 3, 3]`` -> rotation vector ``[..., 3]`` with angle in [0, pi]."""
    flat = rotation.reshape(-1, 3, 3)
    return kornia_conversions.rotation_matrix_to_axis_angle(flat).reshape(*rotation.shape[:-2], 3)
