"""Differentiable 3D Gaussian splatting: parameters, cameras, SH colour, rasterizers (torch / gsplat), .ply I/O.

``rasterize(..., backend="auto")`` uses gsplat's CUDA kernels for CUDA tensors when gsplat is installed and
the pure-torch tile rasterizer otherwise; both take and return the same things (:class:`RenderOutput`).
"""

from __future__ import annotations

from typing import Literal

from torch import Tensor

from genforge.core.render.cameras import (
    Cameras,
    check_rotations,
    intrinsics_from_fov,
    look_at,
    opencv_w2c_to_opengl_c2w,
    opengl_c2w_to_opencv_w2c,
    orbit_viewmats,
)
from genforge.core.render.gaussians import Gaussians, covariances, rgb_to_sh, sh_to_rgb
from genforge.core.render.output import RenderOutput
from genforge.core.render.ply import load_ply, save_ply
from genforge.core.render.raster_gsplat import gsplat_available, rasterize_gsplat
from genforge.core.render.raster_torch import rasterize_dense, rasterize_torch
from genforge.core.render.sh import eval_sh, sh_basis, sh_colours

Backend = Literal["auto", "torch", "gsplat"]


def rasterize(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor, viewmats: Tensor,
              Ks: Tensor, width: int, height: int, *, backend: Backend = "auto", **options: object) -> RenderOutput:
    """Render Gaussians with the chosen backend; see :func:`rasterize_torch` for arguments and shapes.

    ``backend="auto"`` picks gsplat for CUDA tensors when it is installed, else the torch rasterizer.
    Backend-specific defaults (alpha clamp, support extent, tile size) are each backend's own.
    """
    if backend == "auto":
        backend = "gsplat" if means.is_cuda and gsplat_available() else "torch"
    if backend == "gsplat":
        return rasterize_gsplat(means, quats, scales, opacities, colors, viewmats, Ks, width, height, **options)
    if backend == "torch":
        return rasterize_torch(means, quats, scales, opacities, colors, viewmats, Ks, width, height, **options)
    raise ValueError(f"unknown rasterizer backend {backend!r}; expected 'auto', 'torch' or 'gsplat'")


def render_gaussians(gaussians: Gaussians, cameras: Cameras, *, background: Tensor | None = None,
                     sh_degree: int | None = None, backend: Backend = "auto", **options: object) -> RenderOutput:
    """Render a :class:`Gaussians` scene into :class:`Cameras` (SH colour up to ``sh_degree``, default all)."""
    degree = gaussians.sh_degree if sh_degree is None else sh_degree
    return rasterize(gaussians.means, gaussians.quats, gaussians.scales, gaussians.opacities, gaussians.sh,
                     cameras.viewmats.to(gaussians.means), cameras.Ks.to(gaussians.means), cameras.width,
                     cameras.height, sh_degree=degree, background=background, backend=backend, **options)


__all__ = ["Backend", "Cameras", "Gaussians", "RenderOutput", "check_rotations", "covariances", "eval_sh",
           "gsplat_available", "intrinsics_from_fov", "load_ply", "look_at", "opencv_w2c_to_opengl_c2w",
           "opengl_c2w_to_opencv_w2c", "orbit_viewmats", "rasterize", "rasterize_dense", "rasterize_gsplat",
           "rasterize_torch", "render_gaussians", "rgb_to_sh", "save_ply", "sh_basis", "sh_colours", "sh_to_rgb"]
