r"""Real spherical harmonics up to degree 3 for view-dependent colour (3DGS / gsplat convention).

The basis is the real SH basis in Cartesian form with the sign convention of the 3DGS reference code
(e.g. :math:`Y_1 = (-C_1 y, C_1 z, -C_1 x)`), evaluated at unit view directions (Gaussian centre minus
camera centre). The colour of a Gaussian is :math:`\max(\sum_k c_k Y_k(d) + 0.5, 0)`.
"""

from __future__ import annotations

import torch
from torch import Tensor

SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
         1.445305721320277, -0.5900435899266435)
MAX_SH_DEGREE = 3


def sh_basis(degree: int, dirs: Tensor) -> Tensor:
    """Basis values ``[..., (degree + 1)^2]`` at directions ``dirs [..., 3]`` (normalised here)."""
    if not 0 <= degree <= MAX_SH_DEGREE:
        raise ValueError(f"SH degree must be in 0..{MAX_SH_DEGREE}, got {degree}")
    d = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    x, y, z = d.unbind(-1)
    terms = [torch.full_like(x, SH_C0)]
    if degree >= 1:
        terms += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if degree >= 2:
        xx, yy, zz = x * x, y * y, z * z
        terms += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy), SH_C2[3] * x * z,
                  SH_C2[4] * (xx - yy)]
    if degree >= 3:
        terms += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z, SH_C3[2] * y * (4 * zz - xx - yy),
                  SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                  SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(terms, dim=-1)


def eval_sh(degree: int, dirs: Tensor, coeffs: Tensor) -> Tensor:
    """``sum_k coeffs[..., k, :] Y_k(dirs)`` using the first ``(degree + 1)^2`` of ``coeffs [..., K, C]``."""
    num = (degree + 1) ** 2
    if coeffs.shape[-2] < num:
        raise ValueError(f"degree {degree} needs {num} SH coefficients, got {coeffs.shape[-2]}")
    return torch.einsum("...k,...kc->...c", sh_basis(degree, dirs), coeffs[..., :num, :])


def sh_colours(degree: int, dirs: Tensor, coeffs: Tensor) -> Tensor:
    """Activated colours ``max(eval_sh + 0.5, 0)`` ``[..., C]`` (the 3DGS / gsplat offset and clamp)."""
    return (eval_sh(degree, dirs, coeffs) + 0.5).clamp_min(0.0)
