"""What every rasterizer backend returns, and the shared argument normalisation."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass
class RenderOutput:
    """Renders of ``I`` images (``I = C`` cameras, or ``B * C`` for batched scenes, ordered ``b * C + c``).

    Shapes: ``image [I, D, H, W]`` (colour composited over the background), ``depth [I, 1, H, W]`` (expected
    camera depth, ``sum w z / sum w``; 0 where nothing was hit), ``alpha [I, 1, H, W]`` (accumulated opacity),
    ``means2d [I, N, 2]`` (projected centres in pixels; call ``retain_grad()`` before backward to read the
    screen-space gradient used for densification), ``radii [I, N]`` (integer pixel radius, 0 = culled).
    """

    image: Tensor
    depth: Tensor
    alpha: Tensor
    means2d: Tensor
    radii: Tensor


def as_batched(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor, viewmats: Tensor,
               Ks: Tensor, sh_degree: int | None) -> tuple[Tensor, ...]:
    """Add the scene batch dimension ``B = 1`` to unbatched inputs (``means [N, 3]``, ``viewmats [C, 4, 4]``)."""
    if means.dim() == 2:
        means, quats, scales, opacities, colors = (t[None] for t in (means, quats, scales, opacities, colors))
        viewmats, Ks = viewmats[None], Ks[None]
    b, n = means.shape[:2]
    color_dims = 4 if sh_degree is not None else 3
    expected = {"means": (means, 3), "quats": (quats, 3), "scales": (scales, 3), "opacities": (opacities, 2),
                "colors": (colors, color_dims), "viewmats": (viewmats, 4), "Ks": (Ks, 4)}
    for name, (tensor, dims) in expected.items():
        if tensor.dim() != dims or tensor.shape[0] != b or (name not in ("viewmats", "Ks") and tensor.shape[1] != n):
            raise ValueError(f"rasterize: {name} has shape {tuple(tensor.shape)}, inconsistent with means "
                             f"{tuple(means.shape)} (sh_degree={sh_degree})")
    return means, quats, scales, opacities, colors, viewmats, Ks
