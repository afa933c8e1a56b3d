"""E(3) and permutation equivariance of every trajectory layer and model, in float64 (< 1e-5, in practice
round-off), with the core property-test helpers; the non-equivariant baseline is shown to fail them."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from genforge.core.nets.init import seeded
from genforge.core.testing.equivariance import GeometricOutputs, assert_se3_equivariant
from genforge.domains.trajectories.baselines import BaselineConfig, EGNNForecaster, TrajTransformer
from genforge.domains.trajectories.layers import SpatialLayer, TemporalLayer, pair_attributes
from genforge.domains.trajectories.model import EquivariantPrior, GeoTDM, GeoTDMConfig, TrajCondition

F64 = torch.float64
B, TC, TF, N, H = 2, 4, 3, 5, 16
CFG = GeoTDMConfig(node_dim=2, hidden=H, layers=2, prior_layers=1, cond_frames=TC, future_frames=TF, time_dim=8)


def _data(frames: int, seed: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    pos = 1.5 * torch.randn(B, frames, N, 3, generator=generator, dtype=F64)
    nodes = torch.randn(B, N, 2, generator=generator, dtype=F64)
    h = torch.randn(B, frames, N, H, generator=generator, dtype=F64)
    return pos, nodes, h


def _check(fn: Callable[[Tensor], GeometricOutputs], pos: Tensor, seed: int = 1) -> float:
    """Flatten ``pos [B, T, N, 3]`` to rows of B graphs, check, and return the error."""
    frames = pos.shape[1]
    batch = torch.arange(B).repeat_interleave(frames * N)

    def flat_fn(flat: Tensor) -> GeometricOutputs:
        return fn(flat.reshape(B, frames, N, 3))

    return assert_se3_equivariant(flat_fn, pos.reshape(-1, 3), batch=batch,
                                  generator=torch.Generator().manual_seed(seed))


def _per_graph(x: Tensor) -> Tensor:
    return x.reshape(B, -1, x.shape[-1])


def test_spatial_layer_is_e3_equivariant() -> None:
    pos, nodes, h = _data(TC)
    with seeded(0):
        layer = SpatialLayer(H, 2).double()
    torch.nn.init.normal_(layer.phi_x.weight)  # large coordinate updates so the check is not trivial

    def fn(p: Tensor) -> GeometricOutputs:
        x, h_out = layer(p, h, pair_attributes(nodes))
        return GeometricOutputs(invariants=_per_graph(h_out), positions=_per_graph(x))

    assert (fn(pos).positions - _per_graph(pos)).abs().max() > 1e-3
    assert _check(fn, pos) < 1e-5


def test_temporal_layer_is_e3_equivariant() -> None:
    pos, _, h = _data(TC + TF)
    with seeded(0):
        layer = TemporalLayer(H, time_dim=8).double()
    torch.nn.init.normal_(layer.phi_x[-1].weight)

    def fn(p: Tensor) -> GeometricOutputs:
        x, h_out = layer(p, h)
        return GeometricOutputs(invariants=_per_graph(h_out), positions=_per_graph(x))

    assert (fn(pos).positions - _per_graph(pos)).abs().max() > 1e-3
    assert _check(fn, pos) < 1e-5


def test_learnable_prior_is_e3_equivariant_and_a_weighted_mean() -> None:
    pos, nodes, _ = _data(TC)
    with seeded(0):
        prior = EquivariantPrior(CFG).double()
    steps = torch.arange(1, TF + 1, dtype=F64)[None, :, None, None]
    constant_velocity = pos[:, -1:] + steps * (pos[:, -1:] - pos[:, -2:-1])
    assert torch.allclose(prior(pos, nodes), constant_velocity)  # initial weights: constant velocity
    torch.nn.init.normal_(prior.head.weight, std=0.3)

    def fn(p: Tensor) -> GeometricOutputs:
        return GeometricOutputs(positions=_per_graph(prior(p, nodes)))

    assert _check(fn, pos) < 1e-5


@pytest.mark.parametrize("conditional", [True, False])
def test_geotdm_is_e3_equivariant(conditional: bool) -> None:
    cfg = CFG if conditional else GeoTDMConfig(node_dim=2, hidden=H, layers=2, cond_frames=0, future_frames=TF,
                                               time_dim=8)
    with seeded(0):
        model = GeoTDM(cfg).double()
    if conditional:
        torch.nn.init.normal_(model.prior_net.head.weight, std=0.3)
    pos, nodes, _ = _data(TC + TF)
    t = torch.tensor([0.3, 0.8], dtype=F64)

    def fn(p: Tensor) -> GeometricOutputs:
        # the future frames enter as absolute positions; the model's input is their residual to the prior
        if conditional:
            cond = TrajCondition(nodes, p[:, :TC])
            x_ref = model.prior(cond)
            eps = model(p[:, TC:] - x_ref, t, cond)
            return GeometricOutputs(vectors=_per_graph(eps), positions=_per_graph(x_ref))
        eps = model(p[:, TC:], t, TrajCondition(nodes))
        return GeometricOutputs(vectors=_per_graph(eps))

    assert _check(fn, pos) < 1e-5


@pytest.mark.parametrize("velocity_gate", [False, True])
def test_egnn_forecaster_is_e3_equivariant(velocity_gate: bool) -> None:
    with seeded(0):
        model = EGNNForecaster(BaselineConfig(node_dim=2, hidden=H, layers=2, cond_frames=TC, future_frames=TF,
                                              time_dim=8, velocity_gate=velocity_gate)).double()
        if model.velocity_gate is not None:  # leave the zero start, so the gate takes part in the check
            torch.nn.init.normal_(model.velocity_gate[-1].weight)
    pos, nodes, _ = _data(TC)

    def fn(p: Tensor) -> GeometricOutputs:
        return GeometricOutputs(positions=_per_graph(model(TrajCondition(nodes, p))))

    assert _check(fn, pos) < 1e-5


def test_transformer_baseline_is_not_rotation_equivariant() -> None:
    with seeded(0):
        model = TrajTransformer(BaselineConfig(node_dim=2, hidden=H, layers=2, cond_frames=TC, future_frames=TF,
                                               time_dim=8)).double()
    torch.nn.init.normal_(model.dit.final_layer.linear.weight)
    pos, nodes, _ = _data(TC + TF)
    t = torch.tensor([0.3, 0.8], dtype=F64)

    def fn(p: Tensor) -> GeometricOutputs:
        cond = TrajCondition(nodes, p[:, :TC])
        return GeometricOutputs(vectors=_per_graph(model(p[:, TC:] - model.prior(cond), t, cond)))

    with pytest.raises(AssertionError):
        _check(fn, pos)


def test_geotdm_is_permutation_equivariant_and_frame_order_matters() -> None:
    with seeded(0):
        model = GeoTDM(CFG).double()
    torch.nn.init.normal_(model.prior_net.head.weight, std=0.3)
    pos, nodes, _ = _data(TC + TF)
    t = torch.tensor([0.3, 0.8], dtype=F64)
    perm = torch.randperm(N, generator=torch.Generator().manual_seed(5))
    eps = model(pos[:, TC:], t, TrajCondition(nodes, pos[:, :TC]))
    eps_perm = model(pos[:, TC:, perm], t, TrajCondition(nodes[:, perm], pos[:, :TC, perm]))
    assert (eps_perm - eps[:, :, perm]).abs().max() < 1e-10
    reversed_cond = TrajCondition(nodes, pos[:, :TC].flip(1))
    assert (model(pos[:, TC:], t, reversed_cond) - eps).abs().max() > 1e-6
