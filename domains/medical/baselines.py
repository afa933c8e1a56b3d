r"""Classical reconstructions: conjugate gradients, finite differences, and anisotropic 3-D ADMM-TV.

ADMM-TV solves, for a volume x ``[..., D, H, W]`` and a slice-wise operator A,

.. math::
    \min_x \tfrac12 \lVert A x - y \rVert^2 + \sum_{a \in \text{axes}} \lambda_a \lVert D_a x \rVert_1

by splitting z_a = D_a x (scaled-form ADMM, Boyd et al. 2011 sec. 3.1.1): the x-update solves
:math:`(A^\top A + \rho \sum_a D_a^\top D_a) x = A^\top y + \rho \sum_a D_a^\top (z_a - u_a)` by warm-started
CG, the z-update is soft-thresholding at lambda_a / rho, and u_a += D_a x - z_a. With only the z axis this is
DiffusionMBIR's TV-z data-consistency step (:func:`admm_tv_step`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.domains.medical.operators import LinearOperator

AXES = {"z": -3, "y": -2, "x": -1}
"""Volume axes of ``[..., D, H, W]``."""


def _dot(a: Tensor, b: Tensor, dims: int) -> Tensor:
    """Inner products over the last ``dims`` dimensions, shaped to broadcast against a and b."""
    return (a * b).sum(dim=tuple(range(-dims, 0)), keepdim=True)


def conjugate_gradient(apply: Callable[[Tensor], Tensor], rhs: Tensor, x0: Tensor, iterations: int,
                       dims: int | None = None, tol: float = 0.0) -> Tensor:
    """Solve M x = rhs for symmetric positive (semi-)definite M by ``iterations`` CG steps from ``x0``.

    Directions of (numerically) zero curvature p^T M p are not stepped along, so singular M (MRI's A^T A) is safe.

    Independent systems over the leading dimensions: inner products run over the last ``dims`` dimensions
    (default: all). Stops early when every residual norm is below ``tol`` times the rhs norm.
    """
    dims = rhs.dim() if dims is None else dims
    x = x0
    r = rhs - apply(x)
    p = r
    rr = _dot(r, r, dims)
    rr0, eps = rr.clamp_min(1e-30), torch.finfo(rhs.dtype).eps
    threshold = tol ** 2 * _dot(rhs, rhs, dims)
    for _ in range(iterations):
        if bool((rr <= threshold).all()):
            break
        mp = apply(p)
        curvature = _dot(p, mp, dims)
        # no step along null-space directions of M (unsampled k-space under A^T A) nor once a system has
        # converged to round-off: both would only amplify rounding errors
        active = (curvature > eps * _dot(p, p, dims)) & (rr > (10 * eps) ** 2 * rr0)
        alpha = torch.where(active, rr / curvature.clamp_min(1e-30), torch.zeros_like(rr))
        x = x + alpha * p
        r = r - alpha * mp
        rr_next = _dot(r, r, dims)
        p = r + (rr_next / rr.clamp_min(1e-30)) * p
        rr = rr_next
    return x


def diff(x: Tensor, axis: int) -> Tensor:
    """Forward difference along ``axis`` with a zero last entry (Neumann boundary), same shape."""
    d = torch.diff(x, dim=axis)
    pad = torch.zeros_like(x.narrow(axis, 0, 1))
    return torch.cat([d, pad], dim=axis)


def diff_adjoint(g: Tensor, axis: int) -> Tensor:
    """Adjoint of :func:`diff`: (D^T g)_i = g_{i-1} - g_i with g_{-1} = 0 and g_{n-1} ignored."""
    inner = g.narrow(axis, 0, g.shape[axis] - 1)
    zero = torch.zeros_like(g.narrow(axis, 0, 1))
    return torch.cat([zero, inner], dim=axis) - torch.cat([inner, zero], dim=axis)


def soft_threshold(v: Tensor, threshold: float) -> Tensor:
    """sign(v) max(|v| - threshold, 0)."""
    return torch.sign(v) * (v.abs() - threshold).clamp_min(0.0)


def tv_objective(operator: LinearOperator, x: Tensor, y: Tensor, weights: dict[str, float]) -> Tensor:
    """1/2 ||A x - y||^2 + sum_a lambda_a ||D_a x||_1 (a scalar over the whole batch)."""
    fit = 0.5 * (operator.A(x) - y).abs().square().sum()
    return fit + sum(lam * diff(x, AXES[a]).abs().sum() for a, lam in weights.items())


@dataclass
class ADMMState:
    """ADMM variables: the volume x, and per axis the split z_a and the scaled dual u_a."""

    x: Tensor
    z: dict[str, Tensor]
    u: dict[str, Tensor]

    @classmethod
    def start(cls, x: Tensor, axes: tuple[str, ...]) -> ADMMState:
        z = {a: diff(x, AXES[a]) for a in axes}
        return cls(x, z, {a: torch.zeros_like(x) for a in axes})


def admm_tv_step(operator: LinearOperator, y: Tensor, state: ADMMState, weights: dict[str, float], rho: float,
                 cg_iterations: int, data_weight: float = 1.0) -> ADMMState:
    """One ADMM iteration (x by warm-started CG, z by shrinkage, u by ascent) for volumes ``[..., D, H, W]``.

    ``data_weight`` scales the data term (w/2 ||A x - y||^2) so the same rho fits different operators.
    """
    def normal(v: Tensor) -> Tensor:
        return data_weight * operator.normal(v) + rho * sum(diff_adjoint(diff(v, AXES[a]), AXES[a]) for a in weights)

    rhs = data_weight * operator.A_adjoint(y) + rho * sum(
        diff_adjoint(state.z[a] - state.u[a], AXES[a]) for a in weights)
    x = conjugate_gradient(normal, rhs, state.x, cg_iterations, dims=3)
    z, u = {}, {}
    for a, lam in weights.items():
        dx = diff(x, AXES[a])
        z[a] = soft_threshold(dx + state.u[a], lam / rho)
        u[a] = state.u[a] + dx - z[a]
    return ADMMState(x, z, u)


def admm_tv(operator: LinearOperator, y: Tensor, x0: Tensor, lam: float, rho: float, iterations: int = 30,
            cg_iterations: int = 20, axes: tuple[str, ...] = ("z", "y", "x"),
            callback: Callable[[int, Tensor], None] | None = None) -> Tensor:
    """Anisotropic TV reconstruction of volumes ``[..., D, H, W]`` from ``y`` (ADMM, see module docstring).

    Args:
        operator: slice-wise A.
        y: measurements ``[..., D, *measurement]``.
        x0: starting volume (e.g. FBP).
        lam: TV weight lambda (same on every axis in ``axes``).
        rho: ADMM penalty.
        iterations: ADMM iterations.
        cg_iterations: CG iterations per x-update.
        callback: ``callback(k, x_k)`` after each iteration.
    """
    weights = dict.fromkeys(axes, lam)
    state = ADMMState.start(x0, axes)
    for k in range(iterations):
        state = admm_tv_step(operator, y, state, weights, rho, cg_iterations)
        if callback is not None:
            callback(k, state.x)
    return state.x
