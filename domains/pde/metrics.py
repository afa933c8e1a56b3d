"""Simulation metrics for predicted trajectories (frames after u0 only)."""

from __future__ import annotations

from torch import Tensor


def relative_l2(predicted: Tensor, reference: Tensor) -> Tensor:
    """Per-trajectory ``||u_hat - u||_2 / ||u||_2`` over frames 1..80 ``[B]``. Shapes: ``[B, 81, 120]``."""
    diff = (predicted[:, 1:] - reference[:, 1:]).flatten(1).double()
    return diff.norm(dim=1) / reference[:, 1:].flatten(1).double().norm(dim=1).clamp_min(1e-12)


def simulation_scores(predicted: Tensor, reference: Tensor) -> dict[str, float]:
    """Mean relative L2 and MSE over frames 1..80 (lower is better)."""
    mse = (predicted[:, 1:].double() - reference[:, 1:].double()).square().mean()
    return {"rel_l2": float(relative_l2(predicted, reference).mean()), "mse": float(mse)}
