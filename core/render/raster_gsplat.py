"""CUDA backend: gsplat's fused ``rasterization`` behind the signature of :func:`.raster_torch.rasterize_torch`.

gsplat's kernels fix two constants that the torch backend exposes: alpha is clamped at 0.999 (3DGS uses
0.99) and each Gaussian's support is the opacity-aware box of at most 3.33 sigma, so that every pixel with
alpha >= 1/255 is composited. The torch backend reproduces the kernel with ``alpha_max=0.999, extent=3.33``
(see ``benchmarks/splat_gsplat_parity.py``); other values are not representable here and raise.
"""

from __future__ import annotations

import importlib.util

import torch
from torch import Tensor

from genforge.core.render.output import RenderOutput, as_batched

GSPLAT_ALPHA_MAX = 0.999
GSPLAT_EXTENT = 3.33


def gsplat_available() -> bool:
    """True when gsplat is installed and a CUDA device is present (its kernels compile on first use)."""
    return torch.cuda.is_available() and importlib.util.find_spec("gsplat") is not None


def rasterize_gsplat(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor,
                     viewmats: Tensor, Ks: Tensor, width: int, height: int, *, sh_degree: int | None = None,
                     background: Tensor | None = None, near_plane: float = 0.01, far_plane: float = 1e10,
                     eps2d: float = 0.3, alpha_max: float = GSPLAT_ALPHA_MAX, extent: float = GSPLAT_EXTENT,
                     tile_size: int = 16, chunk_elems: int | None = None) -> RenderOutput:
    """Same arguments and output as :func:`~genforge.core.render.raster_torch.rasterize_torch`, on CUDA tensors.

    ``chunk_elems`` is unused (gsplat bounds memory itself); ``alpha_max`` and ``extent`` must be gsplat's.
    """
    from gsplat import rasterization

    if abs(alpha_max - GSPLAT_ALPHA_MAX) > 1e-9 or abs(extent - GSPLAT_EXTENT) > 1e-9:
        raise ValueError(f"the gsplat backend has alpha_max={GSPLAT_ALPHA_MAX} and extent={GSPLAT_EXTENT} "
                         f"built in; got alpha_max={alpha_max}, extent={extent} (use backend='torch')")
    means, quats, scales, opacities, colors, viewmats, Ks = as_batched(means, quats, scales, opacities, colors,
                                                                        viewmats, Ks, sh_degree)
    b, c = viewmats.shape[:2]
    channels = colors.shape[-1]
    backgrounds = None
    if background is not None:
        backgrounds = background.to(means).reshape(-1, channels).expand(b * c, channels).reshape(b, c, channels)
    renders, alphas, meta = rasterization(
        means, quats, scales, opacities, colors, viewmats, Ks, width, height, near_plane=near_plane,
        far_plane=far_plane, eps2d=eps2d, sh_degree=sh_degree, packed=False, tile_size=tile_size,
        backgrounds=backgrounds, render_mode="RGB+ED")
    renders = renders.reshape(b * c, height, width, -1).permute(0, 3, 1, 2)
    alpha = alphas.reshape(b * c, height, width, 1).permute(0, 3, 1, 2)
    depth = torch.where(alpha > 0, renders[:, -1:], torch.zeros_like(alpha))
    return RenderOutput(image=renders[:, :-1], depth=depth, alpha=alpha,
                        means2d=meta["means2d"].reshape(b * c, means.shape[1], 2),
                        radii=meta["radii"].reshape(b * c, means.shape[1], 2).amax(-1).long())
