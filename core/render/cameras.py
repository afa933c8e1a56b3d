"""Pinhole cameras: world-to-camera matrices in OpenCV axes (x right, y down, z forward), as gsplat.

``viewmats [C, 4, 4]`` map world points to camera coordinates, ``Ks [C, 3, 3]`` map camera coordinates to
pixels (pixel centres at integer + 0.5). NeRF-synthetic / Blender files store OpenGL camera-to-world
matrices (x right, y up, z backward); :func:`opengl_c2w_to_opencv_w2c` converts them once, in the loader.
Rigid-transform algebra and point projection delegate to kornia.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from kornia.geometry.camera import PinholeCamera, project_points
from kornia.geometry.linalg import inverse_transformation, transform_points
from torch import Tensor

from genforge.core.errors import DataError

OPENGL_TO_OPENCV = torch.diag(torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64))


def check_rotations(rotations: Tensor, *, source: str | Path | None = None, field: str | None = None,
                    atol: float = 1e-3) -> None:
    """Raise :class:`DataError` unless every ``rotations [..., 3, 3]`` is orthonormal with determinant +1."""
    r = rotations.double()
    eye = torch.eye(3, dtype=torch.float64)
    if not torch.isfinite(r).all():
        raise DataError("camera matrix has non-finite entries", source=source, field=field)
    ortho_err = (r.mT @ r - eye).abs().amax().item()
    det_err = (torch.linalg.det(r) - 1.0).abs().amax().item()
    if ortho_err > atol or det_err > atol:
        raise DataError(f"camera rotation block is not a rotation (|R^T R - I| = {ortho_err:.2e}, "
                        f"|det R - 1| = {det_err:.2e}; tolerance {atol:g})", source=source, field=field)


def opengl_c2w_to_opencv_w2c(c2w: Tensor) -> Tensor:
    """OpenGL camera-to-world ``[..., 4, 4]`` (x right, y up, z back) -> OpenCV world-to-camera ``[..., 4, 4]``."""
    flip = OPENGL_TO_OPENCV.to(c2w)
    return inverse_transformation((c2w @ flip).reshape(-1, 4, 4)).reshape(c2w.shape)


def opencv_w2c_to_opengl_c2w(w2c: Tensor) -> Tensor:
    """Inverse of :func:`opengl_c2w_to_opencv_w2c`."""
    flip = OPENGL_TO_OPENCV.to(w2c)
    return inverse_transformation(w2c.reshape(-1, 4, 4)).reshape(w2c.shape) @ flip


def intrinsics_from_fov(fov_x: float, width: int, height: int, *, dtype: torch.dtype = torch.float32) -> Tensor:
    """``K [3, 3]`` with horizontal field of view ``fov_x`` (radians), square pixels, centred principal point."""
    focal = 0.5 * width / math.tan(0.5 * fov_x)
    return torch.tensor([[focal, 0.0, 0.5 * width], [0.0, focal, 0.5 * height], [0.0, 0.0, 1.0]], dtype=dtype)


def look_at(eyes: Tensor, target: Tensor, up: Tensor) -> Tensor:
    """World-to-camera ``[C, 4, 4]`` (OpenCV) for cameras at ``eyes [C, 3]`` looking at ``target [3]``.

    ``up [3]`` is the world direction that appears upwards in the image (the camera's -y axis).
    """
    forward = target - eyes
    forward = forward / forward.norm(dim=-1, keepdim=True)
    right = torch.linalg.cross(forward, up.expand_as(forward))
    right = right / right.norm(dim=-1, keepdim=True)
    down = torch.linalg.cross(forward, right)
    c2w = torch.zeros(eyes.shape[0], 4, 4, dtype=eyes.dtype)
    c2w[:, :3, 0], c2w[:, :3, 1], c2w[:, :3, 2], c2w[:, :3, 3], c2w[:, 3, 3] = right, down, forward, eyes, 1.0
    return inverse_transformation(c2w)


def orbit_viewmats(num: int, radius: float, elevation: float, *, up: tuple[float, float, float] = (0.0, 0.0, 1.0),
                   dtype: torch.dtype = torch.float32) -> Tensor:
    """``num`` OpenCV world-to-camera matrices on a circle of ``radius`` at ``elevation`` (radians) around the
    origin, looking at it, with world ``up`` (default +z, as NeRF-synthetic scenes)."""
    azimuth = torch.arange(num, dtype=dtype) * (2 * math.pi / num)
    up_t = torch.tensor(up, dtype=dtype)
    horizontal = torch.stack([torch.cos(azimuth), torch.sin(azimuth), torch.zeros_like(azimuth)], -1)
    if up_t.abs().argmax().item() != 2:
        horizontal = torch.stack([torch.cos(azimuth), torch.zeros_like(azimuth), torch.sin(azimuth)], -1)
    eyes = radius * (math.cos(elevation) * horizontal + math.sin(elevation) * up_t)
    return look_at(eyes, torch.zeros(3, dtype=dtype), up_t)


@dataclass
class Cameras:
    """A batch of ``C`` pinhole cameras of one image size.

    Args:
        viewmats: world-to-camera ``[C, 4, 4]``, OpenCV axes.
        Ks: intrinsics ``[C, 3, 3]`` in pixels.
        width: image width in pixels.
        height: image height in pixels.
    """

    viewmats: Tensor
    Ks: Tensor
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.viewmats.dim() != 3 or self.viewmats.shape[1:] != (4, 4):
            raise ValueError(f"viewmats: expected [C, 4, 4], got {tuple(self.viewmats.shape)}")
        if self.Ks.shape != (self.viewmats.shape[0], 3, 3):
            raise ValueError(f"Ks: expected [{self.viewmats.shape[0]}, 3, 3], got {tuple(self.Ks.shape)}")

    def __len__(self) -> int:
        return self.viewmats.shape[0]

    def __getitem__(self, index: int | slice | Tensor) -> Cameras:
        view, ks = self.viewmats[index], self.Ks[index]
        if view.dim() == 2:
            view, ks = view[None], ks[None]
        return Cameras(view, ks, self.width, self.height)

    @property
    def centres(self) -> Tensor:
        """Camera centres in world coordinates ``[C, 3]``."""
        return inverse_transformation(self.viewmats)[:, :3, 3]

    def to_kornia(self) -> PinholeCamera:
        """The same cameras as a kornia :class:`PinholeCamera` (4x4 intrinsics, world-to-camera extrinsics)."""
        c = len(self)
        intrinsics = torch.eye(4, dtype=self.Ks.dtype).repeat(c, 1, 1)
        intrinsics[:, :3, :3] = self.Ks
        size = torch.full((c,), 1.0, dtype=self.Ks.dtype)
        return PinholeCamera(intrinsics, self.viewmats, size * self.height, size * self.width)

    def project(self, points: Tensor) -> tuple[Tensor, Tensor]:
        """Pixel coordinates ``[C, N, 2]`` and camera depths ``[C, N]`` of world ``points [N, 3]``."""
        cam = transform_points(self.viewmats, points[None].expand(len(self), -1, -1))
        return project_points(cam, self.Ks[:, None]), cam[..., 2]
