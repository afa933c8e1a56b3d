r"""Front-to-back alpha compositing of screen-space Gaussians with the 3DGS conventions.

For pixel centre :math:`p` (integer + 0.5) and Gaussians sorted by camera depth,
:math:`\sigma_i = \tfrac12 d^T \Sigma_{2D,i}^{-1} d` with :math:`d = p - \mu_i`,
:math:`\alpha_i = \min(\alpha_{max}, o_i e^{-\sigma_i})` (``alpha_max`` 0.99 as 3DGS; gsplat's kernel uses
0.999), skipped when :math:`\alpha_i < 1/255`, :math:`\sigma_i < 0` or the pixel lies outside the
``extent``-sigma ellipse (:math:`\sigma_i > extent^2/2`). With :math:`T_i = \prod_{j<i}(1-\alpha_j)`,
Gaussian ``i`` contributes the weight :math:`w_i = \alpha_i T_i` while :math:`T_i (1-\alpha_i) > 10^{-4}`
(the kernels' exclusive cut-off: the Gaussian that would push T below it and all later ones are dropped).
Outputs per pixel: :math:`\sum w_i c_i`, :math:`\sum w_i z_i` and :math:`\sum w_i` (the alpha).
Transmittance is accumulated in log space, a cumulative sum over the depth-sorted list.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

ALPHA_MIN = 1.0 / 255.0
TRANSMITTANCE_MIN = 1e-4


def composite(pixels: Tensor, index: Tensor, present: Tensor, means2d: Tensor, conics: Tensor, opacities: Tensor,
              colours: Tensor, depths: Tensor, alpha_max: float, extent: float) -> Tensor:
    """Composite ``K`` depth-sorted Gaussians over ``P`` pixels in each of ``T`` groups (tiles).

    Shapes:
        pixels ``[T, P, 2]`` pixel centres; index ``[T, K]`` rows of the flat Gaussian tensors in front-to-back
        order; present ``[T, K]`` bool (False = padding); means2d ``[G, 2]``, conics ``[G, 3]``,
        opacities ``[G]``, colours ``[G, D]``, depths ``[G]``.
        Returns ``[T, P, D + 2]``: colour sum, depth sum and alpha per pixel (no background).
    """
    px, py = pixels[:, None, :, 0], pixels[:, None, :, 1]
    mx, my = means2d[index].unbind(-1)
    dx, dy = px - mx[..., None], py - my[..., None]
    a, b, c = (v[..., None] for v in conics[index].unbind(-1))
    sigma = dx * (0.5 * a * dx + b * dy) + 0.5 * c * dy * dy
    exponent = torch.log(opacities[index])[..., None] - sigma
    keep = present[:, :, None] & (sigma >= 0) & (sigma <= 0.5 * extent**2) & (exponent >= math.log(ALPHA_MIN))
    alpha = torch.exp(exponent).clamp(max=alpha_max) * keep
    log_survive = torch.log1p(-alpha)
    log_t_after = torch.cumsum(log_survive, dim=1)
    weights = alpha * torch.exp(log_t_after - log_survive) * (log_t_after > math.log(TRANSMITTANCE_MIN))
    features = torch.cat([colours, depths[:, None], torch.ones_like(depths)[:, None]], dim=-1)[index]
    return torch.einsum("tkp,tkf->tpf", weights, features)
