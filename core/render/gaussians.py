"""3-D Gaussian scene parameters and their activations (3DGS parametrisation).

A scene of ``N`` Gaussians is stored as unconstrained tensors; the renderer takes activated values:

* ``means [N, 3]``: centres in world units;
* ``quats [N, 4]``: rotation quaternions (w, x, y, z), any norm (normalised on use);
* ``log_scales [N, 3]``: ``scales = exp(log_scales)``, standard deviations along the rotated axes;
* ``opacity_logits [N]``: ``opacities = sigmoid(opacity_logits)``;
* ``sh [N, K, 3]``: real spherical-harmonic colour coefficients, ``K = (degree + 1)^2``, DC first; the colour
  is ``max(SH(dir) + 0.5, 0)`` (see :mod:`genforge.core.render.sh`).

The world covariance is :math:`\\Sigma = R S S^T R^T` with ``R`` from the quaternion and ``S = diag(scales)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
from torch import Tensor

from genforge.core.geometry.rotations import quaternion_to_matrix
from genforge.core.render.sh import SH_C0


def covariances(quats: Tensor, scales: Tensor) -> Tensor:
    """World covariances ``[N, 3, 3]`` from quaternions ``[N, 4]`` (w, x, y, z) and scales ``[N, 3]``."""
    rs = quaternion_to_matrix(quats / quats.norm(dim=-1, keepdim=True)) * scales[..., None, :]
    return rs @ rs.mT


def rgb_to_sh(rgb: Tensor) -> Tensor:
    """DC SH coefficient giving colour ``rgb`` in [0, 1] (inverse of ``SH_C0 * c + 0.5``)."""
    return (rgb - 0.5) / SH_C0


def sh_to_rgb(sh_dc: Tensor) -> Tensor:
    """Colour of the DC SH coefficient alone (view-independent part), ``SH_C0 * c + 0.5``."""
    return SH_C0 * sh_dc + 0.5


@dataclass
class Gaussians:
    """Unconstrained parameters of ``N`` Gaussians (see the module docstring for shapes)."""

    means: Tensor
    quats: Tensor
    log_scales: Tensor
    opacity_logits: Tensor
    sh: Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        expected = {"means": (n, 3), "quats": (n, 4), "log_scales": (n, 3), "opacity_logits": (n,)}
        for name, shape in expected.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f"Gaussians.{name}: expected shape {shape}, got {tuple(getattr(self, name).shape)}")
        k = self.sh.shape[1] if self.sh.dim() == 3 else 0
        if self.sh.dim() != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3 or math.isqrt(k) ** 2 != k:
            raise ValueError(f"Gaussians.sh: expected shape ({n}, (degree+1)^2, 3), got {tuple(self.sh.shape)}")

    @property
    def num(self) -> int:
        """Number of Gaussians ``N``."""
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        """Largest SH degree the coefficients hold."""
        return math.isqrt(self.sh.shape[1]) - 1

    @property
    def scales(self) -> Tensor:
        """Standard deviations ``[N, 3]`` (world units)."""
        return self.log_scales.exp()

    @property
    def opacities(self) -> Tensor:
        """Opacities ``[N]`` in (0, 1)."""
        return torch.sigmoid(self.opacity_logits)

    def tensors(self) -> dict[str, Tensor]:
        """The parameters by field name (for optimisers and files)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def from_points(points: Tensor, colours: Tensor, scales: Tensor, *, opacity: float = 0.1,
                    sh_degree: int = 0) -> Gaussians:
        """Isotropic Gaussians at ``points [N, 3]`` with colours ``[N, 3]`` in [0, 1] and scales ``[N]``."""
        n = points.shape[0]
        sh = torch.zeros(n, (sh_degree + 1) ** 2, 3, dtype=points.dtype, device=points.device)
        sh[:, 0] = rgb_to_sh(colours)
        quats = torch.zeros(n, 4, dtype=points.dtype, device=points.device)
        quats[:, 0] = 1.0
        logit = math.log(opacity / (1.0 - opacity))
        return Gaussians(means=points.clone(), quats=quats, log_scales=scales.log()[:, None].expand(n, 3).clone(),
                         opacity_logits=torch.full((n,), logit, dtype=points.dtype, device=points.device), sh=sh)
