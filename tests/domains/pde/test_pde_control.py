"""Gradients used for control: guidance gradient through the model + decoder, and BPTT through the solver."""

from __future__ import annotations

import torch

from genforge.core.guidance import x0_eps_and_grad
from genforge.datasets.burgers import sample_forcing, sample_u0, simulate
from genforge.domains.pde.control import ControlObjective, gradient_control
from genforge.domains.pde.model import NetConfig, PDEModel, build_unet
from genforge.domains.pde.representation import WaveletCodec


def _model() -> PDEModel:
    torch.manual_seed(0)
    codec = WaveletCodec()
    net = build_unet(NetConfig(base_channels=8, channel_mult=(1, 2)), codec.channels).double()
    for parameter in net.parameters():  # the zero-initialised output convs would make the gradient trivial
        parameter.data += 0.05 * torch.randn_like(parameter)
    return PDEModel(net, codec, {})


def test_guidance_gradient_matches_finite_differences() -> None:
    """grad_{x_t} J(decode(x0_hat(x_t))) from core's guidance helper vs a central difference."""
    model = _model()
    codec = model.codec
    generator = torch.Generator().manual_seed(1)
    objective = ControlObjective(torch.randn(2, 120, dtype=torch.float64, generator=generator), 1e-3)

    def cost(x0: torch.Tensor) -> torch.Tensor:
        u, f = codec.decode(x0)
        return objective(u[:, -1], f)

    x_t = torch.randn(2, codec.channels, *codec.shape, dtype=torch.float64, generator=generator)
    t = torch.full((2,), 0.4, dtype=torch.float64)
    _, _, grad = x0_eps_and_grad(model.denoiser(), x_t, t, cost)
    direction = torch.randn(x_t.shape, dtype=torch.float64, generator=generator)
    step = 1e-4
    with torch.no_grad():
        plus = cost(model.denoiser().x0(x_t + step * direction, t)).sum()
        minus = cost(model.denoiser().x0(x_t - step * direction, t)).sum()
    numeric = (plus - minus) / (2 * step)
    assert torch.isclose((grad * direction).sum(), numeric, rtol=1e-5)


def test_bptt_gradient_matches_finite_differences() -> None:
    generator = torch.Generator().manual_seed(2)
    u0 = sample_u0(2, generator)
    f = sample_forcing(2, generator)[:, :3].clone().requires_grad_(True)
    target = torch.zeros(2, 120, dtype=torch.float64)
    objective = ControlObjective(target, 1e-4)
    u = simulate(u0, f, 1, checkpointed=True)
    objective(u[:, -1], f).sum().backward()
    direction = torch.randn(f.shape, dtype=torch.float64, generator=generator)
    step = 1e-5
    with torch.no_grad():
        plus = objective(simulate(u0, f + step * direction, 1)[:, -1], f + step * direction).sum()
        minus = objective(simulate(u0, f - step * direction, 1)[:, -1], f - step * direction).sum()
    assert torch.isclose((f.grad * direction).sum(), (plus - minus) / (2 * step), rtol=1e-6)


def test_gradient_control_lowers_the_cost() -> None:
    """A few Adam steps through the solver move the final state towards the target (short horizon)."""
    generator = torch.Generator().manual_seed(4)
    u0 = sample_u0(2, generator)
    true_f = sample_forcing(2, generator)[:, :10]
    target = simulate(u0, true_f, 1, steps_per_interval=30)[:, -1]
    objective = ControlObjective(target, 0.0)
    zero_cost = objective(simulate(u0, torch.zeros_like(true_f), 1, steps_per_interval=30)[:, -1],
                          torch.zeros_like(true_f))
    f, wall = gradient_control(u0, objective, refine=1, iterations=4, lr=0.3, steps_per_interval=30,
                               init=torch.zeros_like(true_f))
    cost = objective(simulate(u0, f, 1, steps_per_interval=30)[:, -1], f)
    assert wall > 0 and cost.sum() < 0.5 * zero_cost.sum()
