"""Objective guidance without the denoiser's Jacobian (``jacobian=False``) and with a per-t ``schedule``.

For an isotropic Gaussian prior N(m, s^2 I) the Bayes denoiser is affine in x_t with Jacobian a(t) I,
a = alpha s^2 / (alpha^2 s^2 + sigma^2), so grad_{x_t} J(x0_hat) = a grad_{x0} J: the x0-gradient guidance
with ``schedule = a`` must equal the Jacobian guidance exactly.
"""

from __future__ import annotations

import torch
from _guidance_toys import ExactGaussian, TinyMLP
from torch import Tensor

from genforge.core.denoiser import ModelDenoiser
from genforge.core.guidance import objective_guidance
from genforge.core.processes.gaussian import VPCosine, VPLinear


def _cost(x0: Tensor) -> Tensor:
    return 0.5 * (x0 - 1.0).square().sum(dim=1) + x0[:, 0] ** 3


def test_x0_gradient_with_the_jacobian_as_schedule_equals_jacobian_guidance() -> None:
    process, variance = VPCosine(), 0.7
    prior = ExactGaussian(process, torch.full((3,), 0.3, dtype=torch.float64), variance * torch.eye(3).double())
    gen = torch.Generator().manual_seed(0)
    x_t = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    t = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9], dtype=torch.float64)

    def jacobian_factor(tt: Tensor) -> Tensor:
        alpha, sigma = process.alpha(tt), process.sigma(tt)
        return alpha * variance / (alpha.square() * variance + sigma.square())

    exact = objective_guidance(prior, _cost, 1.5).x0_eps(x_t, t)
    approx = objective_guidance(prior, _cost, 1.5, jacobian=False, schedule=jacobian_factor).x0_eps(x_t, t)
    for a, b in zip(exact, approx, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert (exact[0] - prior.x0(x_t, t)).abs().min() > 0  # the guidance did move x0


def test_x0_gradient_does_not_differentiate_the_network_and_keeps_consistency() -> None:
    process = VPLinear()
    gen = torch.Generator().manual_seed(1)
    mlp = TinyMLP(3, 0, gen)
    grad_modes: list[bool] = []

    def net(x: Tensor, tt: Tensor, cond: object) -> Tensor:
        grad_modes.append(torch.is_grad_enabled())
        return mlp(x, tt, cond)

    den = ModelDenoiser(net, process)
    x_t = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    t = torch.full((4,), 0.5, dtype=torch.float64)
    x0, eps = objective_guidance(den, _cost, 2.0, jacobian=False).x0_eps(x_t, t)
    assert grad_modes == [False] and not x0.requires_grad
    alpha, sigma = process.alpha(t)[:, None], process.sigma(t)[:, None]
    torch.testing.assert_close(alpha * x0 + sigma * eps, x_t)
    x0_plain = den.x0(x_t, t).detach().requires_grad_(True)
    grad = torch.autograd.grad(_cost(x0_plain).sum(), x0_plain)[0]
    torch.testing.assert_close(x0, x0_plain.detach() - sigma.square() / alpha * 2.0 * grad)
