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


def fit_linear_extrapolation(pos: Tensor, cond_frames: int, future_frames: int, *, per_particle: bool = False,
                             ridge: float = 1e-6) -> Tensor:
    """Least-squares weights of a fixed linear forecast fitted on every window of ``pos [S, T, N, 3]``.

    The forecast is x_last + sum_k W_ks (x_k - x_last) (k < Tc - 1), a weighted combination of the observed
    frames with weights summing to one: the best input-independent member of GeoTDM's prior family. With
    ``per_particle`` every particle index has its own weights (molecules with a fixed atom order).
    Returns ``W [P, Tc - 1, Tf]`` (P = N or 1).
    """
    span = cond_frames + future_frames
    N = pos.shape[2]
    P = N if per_particle else 1
    gram = pos.new_zeros(P, cond_frames - 1, cond_frames - 1, dtype=torch.float64)
    cross = pos.new_zeros(P, cond_frames - 1, future_frames, dtype=torch.float64)
    for start in range(pos.shape[1] - span + 1):
        window = pos[:, start:start + span].double()
        last = window[:, cond_frames - 1:cond_frames]
        a = (window[:, :cond_frames - 1] - last).permute(2, 0, 3, 1)  # [N, S, 3, Tc - 1]
        y = (window[:, cond_frames:] - last).permute(2, 0, 3, 1)  # [N, S, 3, Tf]
        a, y = a.reshape(P, -1, cond_frames - 1), y.reshape(P, -1, future_frames)
        gram += a.transpose(1, 2) @ a
        cross += a.transpose(1, 2) @ y
    eye = torch.eye(cond_frames - 1, dtype=torch.float64)
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1)[:, None, None]
    return torch.linalg.solve(gram + ridge * scale * eye, cross).to(pos.dtype)


def linear_extrapolation(x_cond: Tensor, weights: Tensor) -> Tensor:
    """Forecast with :func:`fit_linear_extrapolation`'s ``weights [P, Tc - 1, Tf]``:
    ``x_cond [B, Tc, N, 3] -> [B, Tf, N, 3]``."""
    last = x_cond[:, -1:]
    weights = weights.expand(x_cond.shape[2], -1, -1)
    return last + torch.einsum("bknd,nks->bsnd", x_cond[:, :-1] - last, weights)
