"""Adaptive density control: which Gaussians are cloned / split / pruned, and Adam state carried over."""

from __future__ import annotations

import math

import torch

from genforge.core.render import Gaussians
from genforge.domains.splat3d.densify import DensityControl
from genforge.domains.splat3d.fit import FitConfig, make_optimizer, make_parameters


def test_clone_split_prune_and_optimizer_state() -> None:
    # 0: small, high gradient -> clone; 1: large, high gradient -> split; 2: faint -> prune; 3: kept as is
    means = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    scene = Gaussians.from_points(means, torch.full((4, 3), 0.5), torch.tensor([0.01, 0.5, 0.01, 0.01]),
                                  sh_degree=1)
    scene.opacity_logits[2] = math.log(0.001 / 0.999)
    params = make_parameters(scene)
    optimizer = make_optimizer(params, FitConfig(), extent=1.0)
    sum(p.square().sum() for p in params.values()).backward()
    optimizer.step()
    old_state = {g["name"]: optimizer.state[g["params"][0]]["exp_avg"].clone() for g in optimizer.param_groups}
    means = params["means"].detach().clone()
    control = DensityControl(params, optimizer)
    control.grad_sum = torch.tensor([1.0, 1.0, 1.0, 0.0])
    control.seen = torch.ones(4)
    counts = control.step(grad_threshold=0.5, percent_dense=0.1, extent=1.0, min_opacity=0.005, max_scale=10.0,
                          max_gaussians=100, generator=torch.Generator().manual_seed(0))
    assert counts == {"cloned": 2, "split": 1, "pruned": 2, "total": 5}  # 2 and its clone are pruned
    # kept originals (0 and 3) first, then the clone of 0, then the two halves of 1
    assert torch.equal(params["means"][:3], means[[0, 3, 0]])
    torch.testing.assert_close(params["log_scales"][3:], torch.full((2, 3), math.log(0.5 / 1.6)), atol=0.01, rtol=0)
    assert ((params["means"][3:] - means[1]).norm(dim=-1) > 0).all()
    for group in optimizer.param_groups:
        tensor = group["params"][0]
        assert tensor is params[group["name"]] and tensor.shape[0] == 5 and tensor.requires_grad
        state = optimizer.state[tensor]["exp_avg"]
        torch.testing.assert_close(state[:2], old_state[group["name"]][[0, 3]])
        assert state[2:].abs().sum() == 0
    assert control.grad_sum.shape == (5,) and control.grad_sum.sum() == 0


def test_density_cap_keeps_the_largest_gradients() -> None:
    scene = Gaussians.from_points(torch.randn(6, 3), torch.rand(6, 3), torch.full((6,), 0.01))
    params = make_parameters(scene)
    control = DensityControl(params, make_optimizer(params, FitConfig(), extent=1.0))
    control.grad_sum = torch.tensor([0.9, 0.8, 0.7, 0.6, 0.1, 0.0])
    control.seen = torch.ones(6)
    counts = control.step(grad_threshold=0.5, percent_dense=0.1, extent=1.0, min_opacity=0.0, max_scale=10.0,
                          max_gaussians=8, generator=torch.Generator().manual_seed(0))
    assert counts["cloned"] == 2 and counts["total"] == 8
    assert torch.equal(params["means"][6:], scene.means[:2])
