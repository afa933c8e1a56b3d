r"""EWA splatting: world Gaussians -> screen-space means, conics, depths and colours for every camera.

For a Gaussian with world mean :math:`\mu` and covariance :math:`\Sigma`, and a camera
``[R | t]`` with intrinsics ``K``: :math:`t_c = R\mu + t`, :math:`\Sigma_c = R \Sigma R^T`,
:math:`\Sigma_{2D} = J \Sigma_c J^T + \epsilon I` with the perspective Jacobian
:math:`J = [[f_x/z, 0, -f_x x/z^2], [0, f_y/z, -f_y y/z^2]]` evaluated at the camera-space mean whose
``x/z``, ``y/z`` are clamped to 1.3 times the field of view (3DGS / gsplat), and :math:`\epsilon = 0.3` px^2
the low-pass dilation. The conic is :math:`\Sigma_{2D}^{-1}` stored as ``(a, b, c)`` for
``[[a, b], [b, c]]``. Gaussians behind ``near_plane`` or past ``far_plane`` are marked invalid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.render.gaussians import covariances
from genforge.core.render.sh import sh_colours


@dataclass
class Projected:
    """Per-image screen-space Gaussians, ``I = B * C`` images.

    Shapes: ``means2d [I, N, 2]`` (pixels), ``conics [I, N, 3]``, ``cov2d [I, N, 2, 2]`` (dilated),
    ``depths [I, N]`` (camera z), ``opacities [I, N]``, ``colours [I, N, D]``, ``valid [I, N]`` (bool).
    """

    means2d: Tensor
    conics: Tensor
    cov2d: Tensor
    depths: Tensor
    opacities: Tensor
    colours: Tensor
    valid: Tensor


def project(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor, viewmats: Tensor,
            Ks: Tensor, width: int, height: int, *, sh_degree: int | None = None, near_plane: float = 0.01,
            far_plane: float = 1e10, eps2d: float = 0.3) -> Projected:
    """Project batched Gaussians into batched cameras.

    Shapes:
        means ``[B, N, 3]``, quats ``[B, N, 4]``, scales ``[B, N, 3]``, opacities ``[B, N]``; colors
        ``[B, N, D]`` (activated) or SH coefficients ``[B, N, K, 3]`` when ``sh_degree`` is given;
        viewmats ``[B, C, 4, 4]``, Ks ``[B, C, 3, 3]``. Output images are ordered ``b * C + c``.
    """
    b, c = viewmats.shape[:2]
    rot, trans = viewmats[..., :3, :3], viewmats[..., :3, 3]
    means_c = torch.einsum("bcij,bnj->bcni", rot, means) + trans[:, :, None]
    cov_c = torch.einsum("bcij,bnjk,bclk->bcnil", rot, covariances(quats, scales), rot)
    tx, ty, tz = means_c.unbind(-1)
    fx, fy = Ks[..., 0, 0, None], Ks[..., 1, 1, None]
    cx, cy = Ks[..., 0, 2, None], Ks[..., 1, 2, None]
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    tx_clamped = tz * torch.minimum(torch.maximum(tx / tz, -(cx / fx + 0.3 * tan_x)), (width - cx) / fx + 0.3 * tan_x)
    ty_clamped = tz * torch.minimum(torch.maximum(ty / tz, -(cy / fy + 0.3 * tan_y)),
                                    (height - cy) / fy + 0.3 * tan_y)
    zero = torch.zeros_like(tz)
    jac = torch.stack([fx / tz, zero, -fx * tx_clamped / tz**2, zero, fy / tz, -fy * ty_clamped / tz**2],
                      dim=-1).reshape(*tz.shape, 2, 3)
    cov2d = jac @ cov_c @ jac.mT + eps2d * torch.eye(2, dtype=means.dtype, device=means.device)
    det = cov2d[..., 0, 0] * cov2d[..., 1, 1] - cov2d[..., 0, 1] * cov2d[..., 1, 0]
    det_safe = det.clamp_min(1e-10)
    conics = torch.stack([cov2d[..., 1, 1] / det_safe, -0.5 * (cov2d[..., 0, 1] + cov2d[..., 1, 0]) / det_safe,
                          cov2d[..., 0, 0] / det_safe], dim=-1)
    means2d = torch.stack([fx * tx / tz + cx, fy * ty / tz + cy], dim=-1)
    valid = (tz > near_plane) & (tz < far_plane) & (det > 0)
    if sh_degree is None:
        colours = colors[:, None].expand(b, c, *colors.shape[1:])
    else:
        centres = -torch.einsum("bcji,bcj->bci", rot, trans)
        colours = sh_colours(sh_degree, means[:, None] - centres[:, :, None], colors[:, None])
    flat = (b * c, means.shape[1])
    return Projected(means2d=means2d.reshape(*flat, 2), conics=conics.reshape(*flat, 3),
                     cov2d=cov2d.reshape(*flat, 2, 2), depths=tz.reshape(flat),
                     opacities=opacities[:, None].expand(b, c, -1).reshape(flat),
                     colours=colours.reshape(*flat, colours.shape[-1]), valid=valid.reshape(flat))
