r"""Forward models of the medical inverse problems, as objects with ``A``, ``A_adjoint``, ``A_dagger`` (deepinv's
shape), batched over every leading dimension (slices, volumes, batch), differentiable.

* :class:`ParallelBeamCT`: 2-D parallel-beam projection of each axial slice ``[..., H, W]`` to a sinogram
  ``[..., V, L]`` (V views, L detector bins of one pixel). The projector is a sparse matrix built once per
  geometry: every ray is sampled every half pixel and bilinear weights spread each sample over 4 pixels
  (a ray-driven Joseph-type projector); the adjoint is the transposed matrix, so it is exact.
  Units: pixels (line integrals are sums times the half-pixel step), angles in radians.
* :class:`CartesianMRI`: ``mask * FFT2`` (orthonormal) of each slice; real images map to complex k-space
  ``[..., H, W]``; the adjoint is ``Re(IFFT2(mask * y))`` (the adjoint for the real inner product
  :math:`\mathrm{Re}\langle u, v\rangle` of :math:`\mathbb{C}^n`).

Both record their geometry as a plain dict (``geometry()`` / :func:`operator_from_geometry`) so a measurement
file is self-describing.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genforge.domains.medical.fbp import filter_sinogram


class LinearOperator(ABC):
    """A linear measurement operator on images ``[..., H, W]`` (real)."""

    image_shape: tuple[int, int]

    @abstractmethod
    def A(self, x: Tensor) -> Tensor:  # noqa: N802 (deepinv's name)
        """Forward model."""

    @abstractmethod
    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        """Adjoint (real inner product)."""

    @abstractmethod
    def A_dagger(self, y: Tensor) -> Tensor:  # noqa: N802
        """A fast approximate inverse (FBP, zero-filled inverse FFT)."""

    @abstractmethod
    def geometry(self) -> dict[str, Any]:
        """Everything needed to rebuild the operator (JSON-serialisable)."""

    def __call__(self, x: Tensor) -> Tensor:
        return self.A(x)

    def normal(self, x: Tensor) -> Tensor:
        """A^T A x."""
        return self.A_adjoint(self.A(x))

    def add_noise(self, y: Tensor, std: float, generator: torch.Generator) -> Tensor:
        """y + std * n with n standard normal (complex normal with unit variance for complex y)."""
        if std == 0.0:
            return y
        if y.is_complex():
            noise = torch.randn(y.shape, generator=generator, dtype=y.real.dtype) + 1j * torch.randn(
                y.shape, generator=generator, dtype=y.real.dtype)
            return y + std * noise / math.sqrt(2.0) * self.support(y)
        return y + std * torch.randn(y.shape, generator=generator, dtype=y.dtype)

    def support(self, y: Tensor) -> Tensor:
        """Where measurements exist (1) and where they are structurally zero (0), broadcastable to y."""
        return torch.ones((), dtype=y.real.dtype)


class _SparseMatmul(torch.autograd.Function):
    """rows = M @ cols with gradient M^T @ grad (M sparse CSR, its transpose given)."""

    @staticmethod
    def forward(ctx: Any, cols: Tensor, matrix: Tensor, transpose: Tensor) -> Tensor:  # type: ignore[override]
        ctx.transpose = transpose
        return matrix @ cols

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:  # type: ignore[override]
        return ctx.transpose @ grad, None, None


def sparse_view_angles(views: int, arc_degrees: float = 180.0) -> Tensor:
    """``views`` equally spaced angles over [0, arc) (radians, float64)."""
    return torch.arange(views, dtype=torch.float64) * math.radians(arc_degrees) / views


def limited_angle_angles(wedge_degrees: float, step_degrees: float = 1.0) -> Tensor:
    """Angles every ``step_degrees`` over the wedge [0, wedge) (radians)."""
    return torch.deg2rad(torch.arange(0.0, wedge_degrees, step_degrees, dtype=torch.float64))


def projection_matrix(angles: Tensor, size: int, detectors: int, step: float = 0.5) -> Tensor:
    """Sparse ``[V * L, size * size]`` (COO, float64) line-integral matrix of a ``size x size`` image.

    Pixel (i, j) has centre (x, y) = (j - c, c - i), c = (size - 1) / 2 (x right, y up); detector bin k
    sits at s = k - (L - 1) / 2; the ray of angle theta is {s (cos, sin) + u (-sin, cos)}, sampled every
    ``step`` pixels over u in [-R, R] with R the image half-diagonal.
    """
    centre = (size - 1) / 2.0
    half = math.ceil(math.sqrt(2.0) * size / 2.0) + 1
    u = torch.arange(-half, half + step / 2, step, dtype=torch.float64)
    s = torch.arange(detectors, dtype=torch.float64) - (detectors - 1) / 2.0
    cos, sin = torch.cos(angles)[:, None, None], torch.sin(angles)[:, None, None]
    x = s[None, :, None] * cos - u[None, None, :] * sin
    y = s[None, :, None] * sin + u[None, None, :] * cos
    col, row = x + centre, centre - y
    col0, row0 = torch.floor(col), torch.floor(row)
    fc, fr = col - col0, row - row0
    ray = torch.arange(angles.numel() * detectors).view(angles.numel(), detectors, 1).expand_as(col)
    rows, cols, vals = [], [], []
    for dr, dc, weight in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc), (1, 0, fr * (1 - fc)),
                           (1, 1, fr * fc)):
        r, c = row0 + dr, col0 + dc
        valid = (r >= 0) & (r < size) & (c >= 0) & (c < size) & (weight > 0)
        rows.append(ray[valid])
        cols.append((r[valid] * size + c[valid]).long())
        vals.append(weight[valid] * step)
    index = torch.stack([torch.cat(rows), torch.cat(cols)])
    return torch.sparse_coo_tensor(index, torch.cat(vals), (angles.numel() * detectors, size * size),
                                   check_invariants=False).coalesce()


@dataclass
class ParallelBeamCT(LinearOperator):
    """Parallel-beam CT of each slice.

    Args:
        size: slices are ``size x size`` pixels.
        angles: projection angles ``[V]`` (radians).
        detectors: bins per view; default ceil(sqrt(2) size) + 1 (covers the image diagonal).

    Shapes:
        A: ``[..., size, size]`` -> ``[..., V, L]``; A_adjoint, A_dagger: the reverse.
    """

    size: int
    angles: Tensor
    detectors: int = 0
    image_shape: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.angles = torch.as_tensor(self.angles, dtype=torch.float64).flatten()
        if self.detectors <= 0:
            self.detectors = math.ceil(math.sqrt(2.0) * self.size) + 1
        self.image_shape = (self.size, self.size)

    @classmethod
    def sparse_view(cls, size: int, views: int) -> ParallelBeamCT:
        """``views`` angles over 180 degrees."""
        return cls(size, sparse_view_angles(views))

    @classmethod
    def limited_angle(cls, size: int, wedge_degrees: float, step_degrees: float = 1.0) -> ParallelBeamCT:
        """A wedge of ``wedge_degrees`` sampled every ``step_degrees``."""
        return cls(size, limited_angle_angles(wedge_degrees, step_degrees))

    @cached_property
    def _matrices(self) -> dict[torch.dtype, tuple[Tensor, Tensor]]:
        return {}

    def _matrix(self, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
        if dtype not in self._matrices:
            coo = projection_matrix(self.angles, self.size, self.detectors).to(dtype)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta")
                self._matrices[dtype] = (coo.to_sparse_csr(), coo.t().coalesce().to_sparse_csr())
        return self._matrices[dtype]

    @property
    def views(self) -> int:
        return int(self.angles.numel())

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        matrix, transpose = self._matrix(x.dtype)
        lead = x.shape[:-2]
        cols = x.reshape(-1, self.size * self.size).t()
        out = _SparseMatmul.apply(cols.contiguous(), matrix, transpose)
        return out.t().reshape(*lead, self.views, self.detectors)

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        matrix, transpose = self._matrix(y.dtype)
        lead = y.shape[:-2]
        cols = y.reshape(-1, self.views * self.detectors).t()
        out = _SparseMatmul.apply(cols.contiguous(), transpose, matrix)
        return out.t().reshape(*lead, self.size, self.size)

    def A_dagger(self, y: Tensor) -> Tensor:  # noqa: N802
        """Filtered back-projection: Ram-Lak filter, back-projection, times the angular step."""
        return self.angular_step * self.A_adjoint(filter_sinogram(y))

    @property
    def angular_step(self) -> float:
        """d theta of the FBP quadrature: the mean angle spacing (pi / V over 180 degrees; pi for one view)."""
        return math.pi if self.views < 2 else float(torch.diff(self.angles).mean())

    def geometry(self) -> dict[str, Any]:
        return {"modality": "ct", "size": self.size, "angles_deg": torch.rad2deg(self.angles).tolist(),
                "detectors": self.detectors}


def centred_line_mask(size: int, acceleration: int, pattern: str, centre_fraction: float | None = None,
                      seed: int = 0) -> Tensor:
    """A 1-D Cartesian mask over phase-encode lines (rows), ``[size, size]`` bool in centred k-space.

    ``round(size / acceleration)`` lines: a fully sampled centre of ``centre_fraction`` (default 0.08 at x4,
    0.04 at x8, as fastMRI) plus lines either equispaced (``uniform``) or drawn without replacement with a
    Gaussian density of std size / 6 around the centre (``gaussian``, seeded).
    """
    if pattern not in ("uniform", "gaussian"):
        raise ValueError(f"pattern must be 'uniform' or 'gaussian', got {pattern!r}")
    fraction = centre_fraction if centre_fraction is not None else 0.32 / acceleration
    total = max(1, round(size / acceleration))
    centre = max(1, min(total, round(size * fraction)))
    lines = torch.zeros(size, dtype=torch.bool)
    start = (size - centre + 1) // 2
    lines[start:start + centre] = True
    remaining = total - centre
    if remaining > 0:
        free = torch.nonzero(~lines).flatten()
        if pattern == "uniform":
            pick = free[torch.linspace(0, free.numel() - 1, remaining).round().long()]
        else:
            generator = torch.Generator().manual_seed(seed)
            offset = free.to(torch.float64) - (size - 1) / 2.0
            weights = torch.exp(-offset.square() / (2.0 * (size / 6.0) ** 2))
            pick = free[torch.multinomial(weights, remaining, replacement=False, generator=generator)]
        lines[pick] = True
    return lines[:, None].expand(size, size).clone()


@dataclass
class CartesianMRI(LinearOperator):
    """Single-coil Cartesian CS-MRI of each slice.

    Args:
        mask: ``[H, W]`` bool sampling mask in centred k-space (DC in the middle).

    Shapes:
        A: real ``[..., H, W]`` -> complex ``[..., H, W]`` (uncentred FFT layout, zero off the mask).
    """

    mask: Tensor
    image_shape: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        self.mask = torch.as_tensor(self.mask).to(torch.bool)
        self.image_shape = (int(self.mask.shape[0]), int(self.mask.shape[1]))
        self._fft_mask = torch.fft.ifftshift(self.mask)

    @classmethod
    def cartesian(cls, size: int, acceleration: int, pattern: str = "uniform", seed: int = 0) -> CartesianMRI:
        """A 1-D line mask (:func:`centred_line_mask`)."""
        return cls(centred_line_mask(size, acceleration, pattern, seed=seed))

    @property
    def acceleration(self) -> float:
        return self.mask.numel() / float(self.mask.sum())

    def support(self, y: Tensor) -> Tensor:
        return self._fft_mask.to(y.real.dtype)

    def A(self, x: Tensor) -> Tensor:  # noqa: N802
        return torch.fft.fft2(x, norm="ortho") * self._fft_mask

    def A_adjoint(self, y: Tensor) -> Tensor:  # noqa: N802
        return torch.fft.ifft2(y * self._fft_mask, norm="ortho").real

    def A_dagger(self, y: Tensor) -> Tensor:  # noqa: N802
        """Zero-filled inverse FFT (equal to the adjoint: the masked FFT is a partial isometry)."""
        return self.A_adjoint(y)

    def geometry(self) -> dict[str, Any]:
        return {"modality": "mri", "size": self.image_shape[0],
                "mask_rows": np.flatnonzero(self.mask[:, 0].numpy()).tolist(),
                "acceleration": self.acceleration}


def operator_from_geometry(geometry: dict[str, Any]) -> LinearOperator:
    """Rebuild the operator a geometry dict describes (``modality`` ct or mri); KeyError/ValueError if malformed."""
    modality = geometry["modality"]
    size = int(geometry["size"])
    if modality == "ct":
        return ParallelBeamCT(size, torch.deg2rad(torch.tensor(geometry["angles_deg"], dtype=torch.float64)),
                              int(geometry["detectors"]))
    if modality == "mri":
        rows = torch.zeros(size, dtype=torch.bool)
        rows[torch.tensor(geometry["mask_rows"], dtype=torch.long)] = True
        return CartesianMRI(rows[:, None].expand(size, size).clone())
    raise ValueError(f"unknown modality {modality!r} (expected 'ct' or 'mri')")
