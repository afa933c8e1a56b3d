"""Forecasting metrics: average / final displacement error, single-sample and best of K.

ADE = mean over future frames and particles of |x_hat - x| (Euclidean norm per particle); FDE = the same on
the last frame only. With K samples per system, min-ADE / min-FDE take the best sample per system (each
metric minimised separately, as GeoTDM and the pedestrian-forecasting literature do), then average over
systems. Units: those of the positions (Angstrom for MD, dimensionless for N-body).
"""

from __future__ import annotations

import torch
from torch import Tensor


def displacement_errors(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Per-system (ADE, FDE): ``pred [..., Tf, N, 3]``, ``target`` broadcastable -> each ``[...]``."""
    distance = (pred - target).norm(dim=-1)  # [..., Tf, N]
    return distance.mean(dim=(-1, -2)), distance[..., -1, :].mean(dim=-1)


def forecast_metrics(samples: Tensor, target: Tensor) -> dict[str, float]:
    """ADE / FDE of the first sample and min-ADE / min-FDE over all K samples.

    Args:
        samples: ``[B, K, Tf, N, 3]`` forecasts (K = 1 for deterministic models).
        target: ``[B, Tf, N, 3]`` ground truth.
    """
    ade, fde = displacement_errors(samples, target[:, None])  # [B, K]
    return {"ade": float(ade[:, 0].mean()), "fde": float(fde[:, 0].mean()),
            "min_ade": float(ade.min(dim=1).values.mean()), "min_fde": float(fde.min(dim=1).values.mean())}


def constant_velocity(x_cond: Tensor, future_frames: int) -> Tensor:
    """Constant-velocity extrapolation of the last two frames: ``[B, Tc, N, 3] -> [B, Tf, N, 3]``."""
    velocity = x_cond[:, -1] - x_cond[:, -2]
    steps = torch.arange(1, future_frames + 1, dtype=x_cond.dtype, device=x_cond.device)
    return x_cond[:, -1, None] + steps[None, :, None, None] * velocity[:, None]
