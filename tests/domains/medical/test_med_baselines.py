"""CG on SPD systems, finite-difference adjoints, ADMM-TV decreasing its objective and beating FBP."""

from __future__ import annotations

import itertools

import torch

from genforge.core.metrics.image import psnr
from genforge.datasets.phantoms import shepp_logan
from genforge.domains.medical.baselines import (
    ADMMState,
    admm_tv_step,
    conjugate_gradient,
    diff,
    diff_adjoint,
    tv_objective,
)
from genforge.domains.medical.operators import CartesianMRI, ParallelBeamCT
from genforge.domains.medical.reconstruct import normal_norm


def test_cg_solves_spd_systems_batched() -> None:
    generator = torch.Generator().manual_seed(0)
    root = torch.randn(3, 12, 12, generator=generator, dtype=torch.float64)
    matrix = root @ root.transpose(1, 2) + 0.5 * torch.eye(12, dtype=torch.float64)
    truth = torch.randn(3, 12, generator=generator, dtype=torch.float64)
    rhs = (matrix @ truth[..., None])[..., 0]

    def apply(v: torch.Tensor) -> torch.Tensor:
        return (matrix @ v[..., None])[..., 0]

    solution = conjugate_gradient(apply, rhs, torch.zeros_like(rhs), iterations=40, dims=1)
    torch.testing.assert_close(solution, truth, atol=1e-8, rtol=1e-8)
    few = conjugate_gradient(apply, rhs, torch.zeros_like(rhs), iterations=3, dims=1)
    assert float((few - truth).norm()) > 1e-3


def test_cg_on_a_singular_system_stays_finite() -> None:
    """MRI's A^T A has a null space: CG on the data term alone must stay finite and fit the data."""
    operator = CartesianMRI.cartesian(16, 4)
    truth = torch.rand(3, 16, 16, generator=torch.Generator().manual_seed(4))
    y = operator.A(truth)
    x = conjugate_gradient(operator.normal, operator.A_adjoint(y), torch.zeros_like(truth), iterations=60, dims=2)
    assert bool(torch.isfinite(x).all())
    assert float((operator.A(x) - y).abs().norm()) < 1e-4 * float(y.abs().norm())


def test_difference_adjoint() -> None:
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(2, 5, 6, 7, generator=generator, dtype=torch.float64)
    g = torch.randn(2, 5, 6, 7, generator=generator, dtype=torch.float64)
    for axis in (-3, -2, -1):
        torch.testing.assert_close((diff(x, axis) * g).sum(), (x * diff_adjoint(g, axis)).sum())


def test_admm_tv_decreases_objective_and_beats_fbp() -> None:
    truth = shepp_logan((16, 32, 32))
    operator = ParallelBeamCT.sparse_view(32, 8)
    y = operator.A(truth)
    weight = 1.0 / normal_norm(operator)
    weights = dict.fromkeys("zyx", 0.001)
    fbp = operator.A_dagger(y).clamp(0, 1)
    state = ADMMState.start(fbp, tuple(weights))

    def objective(x: torch.Tensor) -> float:
        scaled = {axis: lam / weight for axis, lam in weights.items()}
        return float(tv_objective(operator, x, y, scaled))

    values = [objective(state.x)]
    for _ in range(10):
        state = admm_tv_step(operator, y, state, weights, 0.01, 20, weight)
        values.append(objective(state.x))
    assert values[-1] < 0.5 * values[0]
    assert all(later <= earlier * 1.02 for earlier, later in itertools.pairwise(values[1:]))
    assert float(psnr(state.x.clamp(0, 1)[None], truth[None])) > float(psnr(fbp[None], truth[None])) + 1.5
