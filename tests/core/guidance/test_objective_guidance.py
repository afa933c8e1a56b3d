"""Objective guidance: lowers the cost of the samples, skips alpha = 0, nests with exact gradients.

Cost reduction (2-D correlated Gaussian prior, J = ||x0 - target||^2 / 2 with the target at Mahalanobis
distance 2.1, 40 DDIM steps, 512 samples): mean J falls from 5.5 (unguided) to 0.49 (scale 1) and 0.094
(scale 4) here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch
from _guidance_toys import ExactGaussian, TinyMLP, correlated_cov, finite_difference_grad
from torch import Tensor

from genforge.core import grids
from genforge.core.denoiser import ModelDenoiser
from genforge.core.guidance import objective_guidance, x0_eps_and_grad
from genforge.core.processes.gaussian import VPLinear
from genforge.core.processes.interpolants import LinearInterpolant
from genforge.core.solvers import ddim


@dataclass(frozen=True)
class DistanceCost:
    """J(x0) = ||x0 - target||^2 / 2 per sample ``[B]``."""

    target: Tensor

    def __call__(self, x0: Tensor) -> Tensor:
        return 0.5 * (x0 - self.target).square().sum(dim=1)


def test_guidance_lowers_the_cost_of_the_samples() -> None:
    gen = torch.Generator().manual_seed(0)
    process = VPLinear()
    prior = ExactGaussian(process, torch.zeros(2, dtype=torch.float64), correlated_cov(2, gen))
    cost = DistanceCost(torch.tensor([2.0, -1.5], dtype=torch.float64))
    x1 = process.prior((512, 2), gen, dtype=torch.float64)
    grid = grids.uniform(40)
    unguided = cost(ddim(prior, x1, grid)).mean()
    mild = cost(ddim(objective_guidance(prior, cost, 1.0), x1, grid)).mean()
    strong = cost(ddim(objective_guidance(prior, cost, 4.0), x1, grid)).mean()
    assert strong < mild < 0.2 * unguided


def test_no_correction_where_alpha_is_zero() -> None:
    gen = torch.Generator().manual_seed(1)
    den = ModelDenoiser(TinyMLP(3, 0, gen), LinearInterpolant())
    x_t = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    t = torch.tensor([1.0, 1.0, 0.5, 0.5], dtype=torch.float64)
    cost = DistanceCost(torch.ones(3, dtype=torch.float64))
    x0, eps = objective_guidance(den, cost, 2.0).x0_eps(x_t, t)
    x0_inner, eps_inner = den.x0_eps(x_t, t)
    assert x0_eps_and_grad(den, x_t, t, cost)[2][:2].abs().min() > 0  # a correction would apply
    assert torch.equal(x0[:2], x0_inner[:2]) and torch.equal(eps[:2], eps_inner[:2])
    assert (x0[2:] - x0_inner[2:]).abs().min() > 0


def test_nested_guidance_differentiates_through_the_inner_correction() -> None:
    gen = torch.Generator().manual_seed(2)
    den = ModelDenoiser(TinyMLP(3, 0, gen), VPLinear())
    inner = objective_guidance(den, DistanceCost(torch.ones(3, dtype=torch.float64)), 0.8)
    outer_cost = DistanceCost(-torch.ones(3, dtype=torch.float64))
    x_t = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    t = torch.full((4,), 0.4, dtype=torch.float64)
    _, _, grad = x0_eps_and_grad(inner, x_t, t, outer_cost)
    expected = finite_difference_grad(lambda x: outer_cost(inner.x0(x, t)), x_t)
    torch.testing.assert_close(grad, expected, rtol=1e-6, atol=1e-8)


def test_runs_under_no_grad_and_refuses_inference_mode() -> None:
    gen = torch.Generator().manual_seed(3)
    den = ModelDenoiser(TinyMLP(3, 0, gen), VPLinear())
    guided = objective_guidance(den, DistanceCost(torch.ones(3, dtype=torch.float64)), 1.0)
    x_t = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    t = torch.full((4,), 0.5, dtype=torch.float64)
    with torch.no_grad():
        assert (guided.x0(x_t, t) - den.x0(x_t, t)).abs().min() > 0
    with torch.inference_mode(), pytest.raises(RuntimeError, match="inference_mode"):
        guided.x0(x_t, t)
