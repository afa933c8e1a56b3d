"""Volume quality: PSNR / SSIM over the volume and per axis (axial, coronal, sagittal), and the data residual."""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from genforge.core.metrics.image import per_axis, psnr, ssim
from genforge.domains.medical.operators import LinearOperator

AXIS_NAMES = {"D": "axial", "H": "coronal", "W": "sagittal"}
"""Volumes are ``[D, H, W]`` = (z, y, x): slices orthogonal to D are axial, to H coronal, to W sagittal."""


def _slice_psnr(x: Tensor, y: Tensor, axis: int, data_range: float) -> float:
    """Mean PSNR over the slices orthogonal to ``axis`` whose reference holds any voxel above 1% of the range
    (slices through empty background would give PSNR = inf)."""
    xs, ys = x.movedim(axis, 0).flatten(1), y.movedim(axis, 0).flatten(1)
    keep = ys.amax(1) > 0.01 * data_range
    mse = (xs[keep] - ys[keep]).square().mean(1).clamp_min(1e-12)
    return float((10.0 * torch.log10(data_range ** 2 / mse)).mean())


def volume_scores(recon: Tensor, reference: Tensor, data_range: float = 1.0) -> dict[str, float]:
    """PSNR (dB) over the volume and averaged over slices per axis, SSIM per axis and their mean.

    Per-axis PSNR averages over the slices that cut the object (reference max > 1% of the range).

    Args:
        recon, reference: ``[D, H, W]`` in the same units (each axis >= 11 for the SSIM window).
    """
    x, y = recon[None, None].float(), reference[None, None].float()
    scores = {"psnr": float(psnr(x, y, data_range))}
    for axis, name in zip((0, 1, 2), AXIS_NAMES.values(), strict=True):
        scores[f"psnr_{name}"] = _slice_psnr(recon.float(), reference.float(), axis, data_range)
    for axis, value in per_axis(partial(ssim, data_range=data_range), x, y).items():
        scores[f"ssim_{AXIS_NAMES[axis]}"] = float(value)
    scores["ssim"] = sum(scores[f"ssim_{name}"] for name in AXIS_NAMES.values()) / 3.0
    return scores


def data_residual(operator: LinearOperator, recon: Tensor, y: Tensor) -> float:
    """||A x - y|| / ||y||."""
    return float(torch.linalg.vector_norm(operator.A(recon) - y) / torch.linalg.vector_norm(y))
