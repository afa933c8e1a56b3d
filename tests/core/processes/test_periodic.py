"""Periodic processes: von Mises distribution helpers, the von Mises BFN and the wrapped-normal torus."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.processes.periodic import (
    VonMisesBFN,
    WrappedNormalTorus,
    wrap,
    wrapped_difference,
    wrapped_normal_log_density,
    wrapped_normal_score,
)
from genforge.core.processes.von_mises import (
    concentration_for_entropy,
    expected_resultant_length,
    mean_resultant_length,
    sample_von_mises,
    sender_accuracy,
    von_mises_entropy,
)

F64 = torch.float64


def _von_mises_log_density(angle: torch.Tensor, loc: float, kappa: float) -> torch.Tensor:
    return kappa * (torch.cos(angle - loc) - 1.0) - math.log(2 * math.pi * float(torch.special.i0e(
        torch.tensor(kappa, dtype=F64))))


@pytest.mark.parametrize("kappa", [0.0, 0.5, 5.0, 200.0, 1e4])
def test_von_mises_sampler_moments(kappa: float) -> None:
    generator = torch.Generator().manual_seed(0)
    angles = sample_von_mises(torch.tensor(2.0, dtype=F64), torch.full((40000,), kappa, dtype=F64), generator)
    assert bool((angles >= -math.pi).all()) and bool((angles < math.pi).all())
    standard_error = 1.0 / math.sqrt(40000)
    cosine, sine = torch.cos(angles - 2.0), torch.sin(angles - 2.0)
    assert abs(float(cosine.mean() - mean_resultant_length(torch.tensor(kappa)))) < 4 * standard_error
    assert abs(float(sine.mean())) < 4 * standard_error


def test_entropy_matches_numerical_integral_and_inverts() -> None:
    angle = torch.linspace(-math.pi, math.pi, 200001, dtype=F64)[:-1]
    step = 2 * math.pi / 200000
    for kappa in [0.0, 0.3, 3.0, 50.0]:
        log_density = _von_mises_log_density(angle, 0.0, kappa)
        numerical = float(-(log_density.exp() * log_density).sum() * step)
        exact = float(von_mises_entropy(torch.tensor(kappa)))
        assert math.isclose(exact, numerical, rel_tol=1e-9, abs_tol=1e-12)
    kappas = torch.tensor([0.01, 0.8, 12.0, 900.0], dtype=F64)
    assert torch.allclose(concentration_for_entropy(von_mises_entropy(kappas), 1e4), kappas, rtol=1e-9)
    assert float(concentration_for_entropy(torch.tensor(math.log(2 * math.pi), dtype=F64), 1e4)) == 0.0


def test_sender_accuracy_solves_the_expected_resultant_equation() -> None:
    c_from = torch.tensor([0.0, 0.4, 5.0, 300.0], dtype=F64)
    c_to = torch.tensor([0.2, 1.0, 6.5, 310.0], dtype=F64)
    alpha = sender_accuracy(c_from, c_to)
    assert torch.allclose(expected_resultant_length(c_from, alpha), c_to, rtol=1e-10)
    assert math.isclose(float(alpha[0]), 0.2, rel_tol=1e-10)
    generator = torch.Generator().manual_seed(1)
    offsets = sample_von_mises(torch.tensor(0.0, dtype=F64), alpha.expand(100000, 4), generator)
    monte_carlo = torch.abs(c_from + alpha * torch.exp(1j * offsets)).mean(0)
    assert torch.allclose(monte_carlo, c_to, rtol=5e-3)


def test_von_mises_update_is_the_bayes_posterior() -> None:
    """vM(m, c) prior times vM(y; x, alpha) likelihood is vM(m', c') in x (fractional units)."""
    process = VonMisesBFN(num_steps=4)
    m, c, y = (torch.tensor(value, dtype=F64) for value in (0.1, 2.0, 0.8))
    alpha = 3.0
    m_next, c_next = process.update(m, c, y, alpha)
    x = torch.linspace(0.0, 1.0, 201, dtype=F64)
    to_angle = 2 * math.pi
    posterior = _von_mises_log_density(to_angle * x, float(to_angle * m_next), float(c_next))
    prior_times_likelihood = (_von_mises_log_density(to_angle * x, float(to_angle * m), 2.0)
                              + alpha * torch.cos(to_angle * (y - x)))
    difference = posterior - prior_times_likelihood
    assert float(difference.max() - difference.min()) < 1e-10


def _small_process() -> VonMisesBFN:
    return VonMisesBFN(beta_1=500.0, num_steps=40)


def test_flow_equals_the_chain_of_bayesian_updates() -> None:
    process = _small_process()
    generator = torch.Generator().manual_seed(2)
    x0 = torch.rand(64, 3, generator=generator, dtype=F64)
    noise = process.sample_noise(x0, generator)
    assert noise.shape == (64, 3, 41)
    alphas = process.accuracies()
    m, c = noise[..., 0] / (2 * math.pi), torch.zeros_like(x0)
    for step in range(41):
        t = torch.full((64,), 1.0 - step / 40, dtype=F64)
        flow_m, flow_c = process.flow_parameters(x0, t, noise)
        assert torch.allclose(flow_c, c, atol=1e-9)
        assert torch.allclose(wrapped_difference(flow_m, m), torch.zeros_like(m), atol=1e-9)
        if step < 40:
            y = x0 + noise[..., step + 1] / (2 * math.pi)
            m, c = process.update(m, c, y, alphas[step])


def test_flow_at_the_prior_carries_no_data() -> None:
    process = _small_process()
    generator = torch.Generator().manual_seed(3)
    x0 = torch.rand(32, 2, generator=generator, dtype=F64)
    noise = process.sample_noise(x0, generator)
    t = torch.ones(32, dtype=F64)
    m_a, c_a = process.flow_parameters(x0, t, noise)
    m_b, _ = process.flow_parameters(torch.rand(32, 2, generator=generator, dtype=F64), t, noise)
    assert torch.equal(m_a, m_b) and bool((c_a == 0).all())


def test_von_mises_bfn_is_invariant_to_integer_shifts() -> None:
    process = _small_process()
    generator = torch.Generator().manual_seed(4)
    x0 = torch.rand(16, 3, generator=generator, dtype=F64)
    shift = torch.randint(-3, 4, (16, 3), generator=generator).to(F64)
    noise = process.sample_noise(x0, generator)
    t = process.sample_time(16, generator).to(F64)
    m, c = process.flow_parameters(x0, t, noise)
    m_shifted, c_shifted = process.flow_parameters(x0 + shift, t, noise)
    assert torch.allclose(wrapped_difference(m_shifted, m), torch.zeros_like(m), atol=1e-10)
    assert torch.allclose(c_shifted, c, atol=1e-10)
    pred = torch.rand(16, 3, generator=generator, dtype=F64)
    loss = process.loss(pred, x0, noise, t)
    assert torch.allclose(process.loss(pred - shift, x0 + shift, noise, t), loss, atol=1e-9)


def test_schedule_endpoints_and_simulated_concentration() -> None:
    process = _small_process()
    ends = process.input_concentration(torch.tensor([1.0, 0.0], dtype=F64))
    assert float(ends[0]) == 0.0 and math.isclose(float(ends[1]), 500.0, rel_tol=1e-9)
    entropy = process.entropy(torch.linspace(1.0, 0.0, 5, dtype=F64))
    assert torch.allclose(entropy.diff(), entropy.diff()[:1].expand(4), atol=1e-12)
    generator = torch.Generator().manual_seed(5)
    x0 = torch.rand(4000, 1, generator=generator)
    noise = process.sample_noise(x0, generator)
    mean_c = torch.stack([process.flow_parameters(x0, torch.full((4000,), 1.0 - k / 40), noise)[1].mean()
                          for k in range(41)])
    assert bool((mean_c.diff() > 0).all())
    assert abs(float(mean_c[-1]) / 500.0 - 1.0) < 0.02
    scheduled = process.input_concentration(torch.linspace(1.0, 0.0, 41, dtype=F64))
    assert bool((mean_c[1:].double() / scheduled[1:] - 1.0).abs().max() < 0.2)


def test_loss_is_n_times_the_von_mises_kl() -> None:
    process = _small_process()
    alpha = float(process.accuracies()[7])
    angle = torch.linspace(-math.pi, math.pi, 100001, dtype=F64)[:-1]
    sender = _von_mises_log_density(angle, 0.3, alpha)
    receiver = _von_mises_log_density(angle, -0.2, alpha)
    kl = float((sender.exp() * (sender - receiver)).sum() * 2 * math.pi / 100000)
    x0 = torch.tensor([[0.3 / (2 * math.pi)]], dtype=F64)
    pred = torch.tensor([[-0.2 / (2 * math.pi)]], dtype=F64)
    t = torch.tensor([1.0 - 7 / 40], dtype=F64)
    loss = process.loss(pred, x0, torch.zeros(1, 1, 41, dtype=F64), t)
    assert math.isclose(float(loss), 40 * kl, rel_tol=1e-7)


def test_wrapped_normal_score_matches_autograd() -> None:
    diff = torch.linspace(-1.7, 2.3, 57, dtype=F64).requires_grad_(True)
    for sigma in [0.01, 0.2, 0.8]:
        (gradient,) = torch.autograd.grad(wrapped_normal_log_density(diff, sigma).sum(), diff)
        assert torch.allclose(wrapped_normal_score(diff.detach(), sigma), gradient, rtol=1e-9, atol=1e-9)


def test_score_norm_matches_monte_carlo_and_target_is_unit_scale() -> None:
    process = WrappedNormalTorus()
    generator = torch.Generator().manual_seed(6)
    t = torch.tensor([0.0, 0.37, 0.8, 1.0], dtype=F64)
    sigma = process.sigma(t)
    assert math.isclose(float(process.score_norm(t[:1])), 1.0 / 0.005**2, rel_tol=1e-9)
    noise = torch.randn(4, 50000, generator=generator, dtype=F64)
    monte_carlo = wrapped_normal_score(sigma[:, None] * noise, sigma[:, None]).square().mean(-1)
    assert torch.allclose(process.score_norm(t), monte_carlo, rtol=0.03)
    target = process.target(torch.zeros(4, 50000, dtype=F64), noise, t)
    assert torch.allclose(target.square().mean(-1), torch.ones(4, dtype=F64), rtol=0.03)


def test_torus_is_invariant_to_integer_shifts_and_wraps() -> None:
    process = WrappedNormalTorus()
    generator = torch.Generator().manual_seed(7)
    x0 = torch.rand(32, 3, generator=generator, dtype=F64)
    shift = torch.randint(-4, 5, (32, 3), generator=generator).to(F64)
    noise = process.sample_noise(x0, generator)
    t = process.sample_time(32, generator).to(F64)
    x_t = process.corrupt(x0, t, noise)
    assert bool((x_t >= 0).all()) and bool((x_t < 1).all())
    assert torch.allclose(wrapped_difference(process.corrupt(x0 + shift, t, noise), x_t),
                          torch.zeros_like(x_t), atol=1e-12)
    assert torch.equal(process.target(x0 + shift, noise, t), process.target(x0, noise, t))
    prior = process.prior((1000,), generator)
    assert bool((prior >= 0).all()) and bool((prior < 1).all())


def test_wrapped_difference_is_shortest_signed_arc() -> None:
    a = torch.tensor([0.95, 0.05, 0.5, 3.2])
    b = torch.tensor([0.05, 0.95, 0.0, 0.1])
    assert torch.allclose(wrapped_difference(a, b), torch.tensor([-0.1, 0.1, -0.5, 0.1]), atol=1e-6)
    assert torch.allclose(wrap(torch.tensor([-0.25, 1.0, 2.5]), 1.0), torch.tensor([0.75, 0.0, 0.5]))
