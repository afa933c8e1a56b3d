"""Bayesian updates and the joint crystal samplers against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from genforge.core import grids
from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.gaussian import VPCosine
from genforge.core.processes.periodic import VonMisesBFN, WrappedNormalTorus, wrapped_difference
from genforge.core.solvers.crystal import periodic_lattice_bfn, species_lattice_periodic_bfn, torus_lattice_pc

F64 = torch.float64


def test_circular_update_matches_vector_addition_by_hand() -> None:
    process = VonMisesBFN(beta_1=100.0, num_steps=10)
    # prior mean 0 with c = 1, a quarter-turn observation with alpha = 1: resultant (1, 1)
    m, c = process.update(torch.tensor([0.0], dtype=F64), torch.tensor([1.0], dtype=F64),
                          torch.tensor([0.25], dtype=F64), 1.0)
    assert float(m) == pytest.approx(0.125) and float(c) == pytest.approx(math.sqrt(2.0))
    # opposite observations of equal accuracy cancel the concentration: 2 e^{i 0} + 2 e^{i pi} = 0
    _, c = process.update(torch.tensor([0.0], dtype=F64), torch.tensor([2.0], dtype=F64),
                          torch.tensor([0.5], dtype=F64), 2.0)
    assert float(c) == pytest.approx(0.0, abs=1e-12)
    # c = 3 at 0.9 (= -0.1) and alpha = 4 at 0.15: atan2(3 sin(-0.2pi) + 4 sin(0.3pi), 3 cos(-0.2pi) + 4 cos(0.3pi))
    m, c = process.update(torch.tensor([0.9], dtype=F64), torch.tensor([3.0], dtype=F64),
                          torch.tensor([0.15], dtype=F64), 4.0)
    x = 3 * math.cos(-0.2 * math.pi) + 4 * math.cos(0.3 * math.pi)
    y = 3 * math.sin(-0.2 * math.pi) + 4 * math.sin(0.3 * math.pi)
    assert float(m) == pytest.approx((math.atan2(y, x) / (2 * math.pi)) % 1.0)
    assert float(c) == pytest.approx(math.hypot(x, y))


def test_gaussian_update_by_hand() -> None:
    mu, rho = ContinuousBFN(sigma_1=0.01, prediction="x0").update(torch.tensor([1.0]), 2.0, torch.tensor([4.0]), 1.0)
    assert float(mu) == pytest.approx((2 * 1 + 1 * 4) / 3) and float(rho) == pytest.approx(3.0)


def test_discrete_update_by_hand() -> None:
    """theta' = e^y theta / Z: theta = (1/2, 1/4, 1/4), y = (0, ln 2, 0) -> (1/2, 1/2, 1/4) / (5/4)."""
    theta = DiscreteBFN(num_classes=3, beta_1=1.0).update(torch.tensor([0.5, 0.25, 0.25], dtype=F64),
                                                          torch.tensor([0.0, math.log(2.0), 0.0], dtype=F64))
    torch.testing.assert_close(theta, torch.tensor([0.4, 0.4, 0.2], dtype=F64))


def test_species_lattice_periodic_bfn_with_an_oracle() -> None:
    """The de novo sampler with a network that always predicts the data returns it, species included, and the
    species input distribution it feeds the network concentrates on the oracle's class."""
    classes = torch.tensor([2, 0, 1, 1, 2, 0])
    frac_target = torch.rand(6, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    lattice_target = torch.tensor([[0.3, -1.0], [2.0, 0.5]], dtype=F64)
    seen: list[Tensor] = []

    def model(theta: Tensor, m: Tensor, c: Tensor, mu: Tensor, t: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        seen.append(theta)
        return 50.0 * torch.nn.functional.one_hot(classes, 3).to(F64), frac_target, lattice_target.expand_as(mu)

    types = DiscreteBFN(num_classes=3, beta_1=10.0)
    species, frac, lattice = species_lattice_periodic_bfn(
        model, types, VonMisesBFN(beta_1=1000.0, num_steps=50), ContinuousBFN(sigma_1=0.01, prediction="x0"), 6, 2,
        2, grids.uniform(20), generator=torch.Generator().manual_seed(0), dtype=F64)
    assert len(seen) == 21 and torch.equal(species, classes)
    torch.testing.assert_close(seen[0], torch.full((6, 3), 1.0 / 3.0, dtype=F64))
    assert (seen[-1].gather(1, classes[:, None]) > 0.9).all()
    torch.testing.assert_close(frac, frac_target)
    torch.testing.assert_close(lattice, lattice_target)


def _oracle_bfn(target: Tensor, lattice: Tensor):
    def model(m: Tensor, c: Tensor, mu: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return target.expand_as(m), lattice.expand_as(mu)

    return model


def test_periodic_lattice_bfn_concentrates_on_an_oracle_estimate() -> None:
    """With a network that always predicts the data, the input means converge to it at the scheduled accuracy."""
    target = torch.tensor([[0.02, 0.5, 0.97]], dtype=F64).expand(64, 3)
    lattice_target = torch.tensor([[1.5, -0.5]], dtype=F64).expand(8, 2)
    coords, lattice = VonMisesBFN(beta_1=1000.0, num_steps=100), ContinuousBFN(sigma_1=0.01, prediction="x0")
    states = []
    generator = torch.Generator().manual_seed(0)
    frac, lat = periodic_lattice_bfn(_oracle_bfn(target, lattice_target), coords, lattice,
                                     coords.prior(target.shape, generator, dtype=F64), torch.zeros(8, 2, dtype=F64),
                                     grids.uniform(50), generator=generator,
                                     callback=lambda i, t, m, mu: states.append((m.clone(), mu.clone())))
    assert len(states) == 50
    m_last, mu_last = states[-1]
    # after all but the last update the mean is within a few of the final standard deviations 1 / sqrt(beta_1)
    assert wrapped_difference(m_last, target).abs().max() < 6.0 / math.sqrt(1000.0) / (2 * math.pi) + 0.02
    assert (mu_last - lattice_target).abs().max() < 0.1
    torch.testing.assert_close(frac, target)
    torch.testing.assert_close(lat, lattice_target)


def test_torus_lattice_pc_with_the_exact_score_recovers_a_point_mass() -> None:
    """Data = one point: the exact wrapped-normal score and eps drive both modalities to it."""
    torus, vp = WrappedNormalTorus(), VPCosine(prediction="eps")
    point = torch.tensor([[0.1, 0.6, 0.95]], dtype=F64)
    lattice_point = torch.tensor([[0.3, -1.2]], dtype=F64)

    def model(x: Tensor, lat: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        from genforge.core.processes.periodic import wrapped_normal_score

        sigma = torus.sigma(t[:1])
        score = wrapped_normal_score(wrapped_difference(x, point.expand_as(x)), sigma)
        alpha, s = vp.alpha(t[:1]), vp.sigma(t[:1])
        return score / torus.score_norm(t[:1]).sqrt(), (lat - alpha * lattice_point) / s

    generator = torch.Generator().manual_seed(0)
    x, lat = torus_lattice_pc(model, torus, vp, torus.prior((32, 3), generator, dtype=F64),
                              torch.randn(32, 2, generator=generator, dtype=F64), grids.uniform(200, 0.999),
                              generator=generator, step_lr=1e-6, x0_clip=5.0)
    assert wrapped_difference(x, point.expand_as(x)).abs().max() < 0.02
    torch.testing.assert_close(lat, lattice_point.expand_as(lat), atol=1e-6, rtol=0)


def test_sender_noise_drawn_only_up_to_the_flow_step_has_the_full_flow_law() -> None:
    """``sample_noise(x0, t=...)`` draws the offsets j <= i(t) only (the rest are 0) and gives flow samples with
    the same law as the full draw: the mean resultant concentration agrees within Monte Carlo error."""
    process = VonMisesBFN(beta_1=1000.0, num_steps=20)
    x0 = torch.rand(4000, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    t = torch.full((4000,), 0.5, dtype=F64).where(torch.arange(4000) % 2 == 0, torch.full((4000,), 0.85, dtype=F64))
    partial = process.sample_noise(x0, torch.Generator().manual_seed(1), t)
    steps = process.step_index(t)[:, None, None]
    used = (torch.arange(1, 21) <= steps).expand(-1, 3, -1)
    assert (partial[..., 1:][~used] == 0).all() and (partial[..., 1:][used] != 0).all()
    full = process.sample_noise(x0, torch.Generator().manual_seed(2))
    for even in (True, False):
        rows = (torch.arange(4000) % 2 == 0) == even
        c_partial = process.flow_parameters(x0[rows], t[rows], partial[rows])[1]
        c_full = process.flow_parameters(x0[rows], t[rows], full[rows])[1]
        error = 4.0 * c_full.std() / math.sqrt(c_full.numel())
        assert abs(float(c_partial.mean() - c_full.mean())) < error
