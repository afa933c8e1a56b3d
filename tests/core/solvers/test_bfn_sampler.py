"""BFN samplers: oracle runs reproduce the Bayesian flow; trained toys sample the data distribution."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from genforge.core.grids import uniform
from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.periodic import VonMisesBFN, wrap, wrapped_difference
from genforge.core.processes.von_mises import sample_von_mises
from genforge.core.solvers.bfn import continuous_bfn, discrete_bfn, von_mises_bfn

F64 = torch.float64


def _total_variation(samples: Tensor, reference: Tensor, bins: int, low: float, high: float) -> float:
    def histogram(values: Tensor) -> Tensor:
        counts = torch.histc(values.float().clamp(low, high), bins, low, high)
        return counts / counts.sum()

    return 0.5 * float((histogram(samples) - histogram(reference)).abs().sum())


def _mlp(width_in: int, width_out: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(width_in, 64), nn.SiLU(), nn.Linear(64, 64), nn.SiLU(),
                         nn.Linear(64, width_out))


def _evaluate(loss_fn: Callable[[int], Tensor]) -> float:
    with torch.no_grad():
        return float(loss_fn(4096))


def _fit(loss_fn: Callable[[int], Tensor], net: nn.Module, steps: int, lr: float) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(steps):
        loss = loss_fn(256)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def test_continuous_oracle_run_follows_the_flow_and_counts_nfe() -> None:
    """With x_hat = x the sampler is the sender chain, so its input means are p_F samples."""
    process = ContinuousBFN(sigma_1=0.05, prediction="x0")
    x = torch.full((40000, 1), 0.4, dtype=F64)
    seen: list[Tensor] = []

    def oracle(mu: Tensor, t: Tensor) -> Tensor:
        seen.append(mu)
        return x

    grid = uniform(12).double()
    result = continuous_bfn(oracle, process, process.prior(x.shape, dtype=F64), grid,
                            generator=torch.Generator().manual_seed(0))
    assert torch.equal(result, x) and len(seen) == 13
    for index in (3, 12):
        gamma = float(process.gamma(grid[index]))
        assert abs(float(seen[index].mean()) - gamma * 0.4) < 4 * math.sqrt(gamma * (1 - gamma) / 40000)
        assert abs(float(seen[index].var()) / (gamma * (1 - gamma)) - 1.0) < 0.03


def test_continuous_sampler_with_the_exact_denoiser_reproduces_two_modes() -> None:
    process = ContinuousBFN(sigma_1=0.02, prediction="x0")
    means, spread = torch.tensor([-0.6, 0.6]), 0.08

    def exact(mu: Tensor, t: Tensor) -> Tensor:
        gamma = process.gamma(t)[:, None].float()
        variance = (gamma.square() * spread**2 + gamma * (1 - gamma)).clamp_min(1e-12)
        weights = torch.softmax(-0.5 * (mu - gamma * means).square() / variance, -1)
        posterior = means + gamma * spread**2 / variance * (mu - gamma * means)
        return (weights * posterior).sum(-1, keepdim=True)

    samples = continuous_bfn(exact, process, process.prior((4000, 1)), uniform(100),
                             generator=torch.Generator().manual_seed(1))
    positive = samples[samples > 0]
    assert abs(positive.numel() / 4000 - 0.5) < 0.03
    assert abs(float(positive.mean()) - 0.6) < 0.01 and abs(float(positive.std()) - 0.08) < 0.01


def test_trained_continuous_bfn_samples_two_modes() -> None:
    process = ContinuousBFN(sigma_1=0.1, prediction="x0")
    generator = torch.Generator().manual_seed(2)

    def data(count: int) -> Tensor:
        return 0.6 * (2 * torch.randint(0, 2, (count, 1), generator=generator) - 1) + 0.08 * torch.randn(
            count, 1, generator=generator)

    net = _mlp(2, 1)

    def model(mu: Tensor, t: Tensor) -> Tensor:
        return net(torch.cat([mu, t[:, None]], -1))

    def training_loss(count: int) -> Tensor:
        x0, t = data(count), process.sample_time(count, generator)
        noise = process.sample_noise(x0, generator)
        return process.loss(model(process.corrupt(x0, t, noise), t), x0, noise, t).mean()

    start = _evaluate(training_loss)
    _fit(training_loss, net, 200, 1e-2)
    assert _evaluate(training_loss) < 0.25 * start  # measured 0.07
    with torch.no_grad():
        samples = continuous_bfn(model, process, process.prior((4000, 1)), uniform(50), generator=generator)
    reference = data(20000)
    sample_tv = _total_variation(samples, reference, 15, -1.5, 1.5)
    prior_tv = _total_variation(torch.randn(4000, 1, generator=generator), reference, 15, -1.5, 1.5)
    assert sample_tv < 0.3 and prior_tv > 0.6  # measured 0.15 and 0.66


def test_discrete_oracle_run_follows_the_flow() -> None:
    process = DiscreteBFN(num_classes=3, beta_1=2.0)
    x = nn.functional.one_hot(torch.full((20000, 1), 2), 3).double()
    seen: list[Tensor] = []

    def oracle(theta: Tensor, t: Tensor) -> Tensor:
        seen.append(theta)
        return 60.0 * x

    samples = discrete_bfn(oracle, process, process.prior((20000, 1, 3), dtype=F64), uniform(10),
                           generator=torch.Generator().manual_seed(3))
    assert torch.equal(samples, x)
    noise = process.sample_noise(x, torch.Generator().manual_seed(4))
    flow = process.corrupt(x, torch.zeros(20000, dtype=F64), noise)
    assert abs(float(seen[-1][..., 2].mean() - flow[..., 2].mean())) < 0.01
    assert abs(float(seen[-1][..., 2].std() / flow[..., 2].std()) - 1.0) < 0.04


def test_trained_discrete_bfn_learns_a_correlated_pair() -> None:
    """Pairs (k, k) with P(k) = (0.1, 0.2, 0.3, 0.4): the sampler must learn the dependency."""
    process = DiscreteBFN(num_classes=4, beta_1=3.0)
    generator = torch.Generator().manual_seed(5)
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])

    def data(count: int) -> Tensor:
        classes = torch.multinomial(probs, count, replacement=True, generator=generator)
        return nn.functional.one_hot(torch.stack([classes, classes], 1), 4).float()

    net = _mlp(9, 8)

    def model(theta: Tensor, t: Tensor) -> Tensor:
        return net(torch.cat([theta.reshape(-1, 8), t[:, None]], -1)).reshape(-1, 2, 4)

    def training_loss(count: int) -> Tensor:
        x0, t = data(count), process.sample_time(count, generator)
        noise = process.sample_noise(x0, generator)
        return process.loss(model(process.corrupt(x0, t, noise), t), x0, noise, t).mean()

    start = _evaluate(training_loss)
    _fit(training_loss, net, 200, 1e-2)
    assert _evaluate(training_loss) < 0.4 * start  # measured 0.16
    with torch.no_grad():
        samples = discrete_bfn(model, process, process.prior((4000, 2, 4)), uniform(30), generator=generator)
    classes = samples.argmax(-1)
    joint = torch.bincount(4 * classes[:, 0] + classes[:, 1], minlength=16).float() / 4000
    reference = torch.diag(probs).reshape(-1)
    assert 0.5 * float((joint - reference).abs().sum()) < 0.25  # measured 0.09; the uniform prior's is 0.75


def test_von_mises_oracle_run_follows_the_simulated_flow() -> None:
    process = VonMisesBFN(beta_1=200.0, num_steps=20)
    x = torch.full((8000, 1), 0.9, dtype=F64)
    seen: list[tuple[Tensor, Tensor]] = []

    def oracle(m: Tensor, c: Tensor, t: Tensor) -> Tensor:
        seen.append((m, c))
        return x + 3.0

    generator = torch.Generator().manual_seed(6)
    result = von_mises_bfn(oracle, process, process.prior(x.shape, generator, dtype=F64), uniform(20),
                           generator=generator)
    assert torch.allclose(result, x)
    noise = process.sample_noise(x, generator)
    m_flow, c_flow = process.flow_parameters(x, torch.zeros(8000, dtype=F64), noise)
    m_sampled, c_sampled = seen[-1]
    assert abs(float(c_sampled.mean() / c_flow.mean()) - 1.0) < 0.02
    assert abs(float(c_sampled.std() / c_flow.std()) - 1.0) < 0.1
    angle_error = 2 * math.pi * wrapped_difference(m_sampled, x)
    assert abs(float(angle_error.cos().mean()) - float((2 * math.pi * (m_flow - x)).cos().mean())) < 2e-3


def test_trained_von_mises_bfn_samples_a_mixture_across_the_seam() -> None:
    """Modes at 0.05 and 0.55 (fractional): the first straddles the 0 = 1 seam."""
    process = VonMisesBFN(beta_1=1000.0, num_steps=50)
    generator = torch.Generator().manual_seed(7)
    centres = torch.tensor([0.05, 0.55], dtype=F64)

    def data(count: int) -> Tensor:
        component = torch.randint(0, 2, (count, 1), generator=generator)
        angles = sample_von_mises(2 * math.pi * centres[component], torch.tensor(80.0, dtype=F64), generator)
        return wrap(angles / (2 * math.pi)).float()

    net = _mlp(4, 2)

    def model(m: Tensor, c: Tensor, t: Tensor) -> Tensor:
        angle = 2 * math.pi * m
        features = [angle.cos(), angle.sin(), torch.log1p(c) / math.log1p(1000.0), t[:, None]]
        out = net(torch.cat(features, -1))
        return torch.atan2(out[:, 1:], out[:, :1]) / (2 * math.pi)

    def training_loss(count: int) -> Tensor:
        x0, t = data(count), process.sample_time(count, generator)
        noise = process.sample_noise(x0, generator)
        m, c = process.flow_parameters(x0, t, noise)
        return process.loss(model(m, c, t), x0, noise, t).mean()

    start = _evaluate(training_loss)
    _fit(training_loss, net, 300, 1e-2)
    assert _evaluate(training_loss) < 0.05 * start  # measured 0.003
    with torch.no_grad():
        samples = von_mises_bfn(model, process, process.prior((4000, 1), generator), uniform(50),
                                generator=generator)
    reference = data(20000)
    sample_tv = _total_variation(samples, reference, 20, 0.0, 1.0)
    prior_tv = _total_variation(process.prior((4000, 1), generator), reference, 20, 0.0, 1.0)
    assert sample_tv < 0.3 and prior_tv > 0.7  # measured 0.13 and 0.80
