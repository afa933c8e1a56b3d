"""Sample distances vs closed forms and scipy: W1/W2, sliced W2, MMD, energy distance."""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from genforge.core.metrics import (
    energy_distance,
    median_bandwidths,
    mmd2_rbf,
    sliced_wasserstein,
    wasserstein,
    wasserstein_1d,
)

F64 = torch.float64


def _normal(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_w1_of_a_shifted_sample_is_the_shift():
    x = _normal(500, seed=0)
    assert wasserstein_1d(x, x + 0.7).item() == pytest.approx(0.7, abs=1e-12)
    assert wasserstein_1d(x, x).item() == 0.0


def test_w1_unequal_sizes_matches_scipy():
    x, y = _normal(37, seed=1), 0.5 + 2.0 * _normal(53, seed=2)
    assert wasserstein_1d(x, y).item() == pytest.approx(stats.wasserstein_distance(x.numpy(), y.numpy()),
                                                        abs=1e-12)


def test_w2_between_gaussian_samples_approaches_closed_form():
    # W2(N(0, 1), N(m, s^2)) = sqrt(m^2 + (s - 1)^2)
    x, y = _normal(20000, seed=3), 1.0 + 2.0 * _normal(20000, seed=4)
    assert wasserstein_1d(x, y, p=2).item() == pytest.approx(math.sqrt(2.0), rel=0.02)


def test_exact_nd_wasserstein():
    x = _normal(60, 2, seed=5)
    shift = torch.tensor([0.3, -0.4], dtype=F64)
    assert wasserstein(x, x + shift).item() == pytest.approx(0.5, abs=1e-9)  # W1 of a translate = |shift|
    a, b = _normal(40, seed=6), _normal(40, seed=7)
    assert wasserstein(a, b).item() == pytest.approx(wasserstein_1d(a, b).item(), abs=1e-9)
    assert wasserstein(a, b, p=2).item() == pytest.approx(wasserstein_1d(a, b, p=2).item(), abs=1e-9)


def test_sliced_w2_of_a_translate():
    # each direction theta gives W2 = |theta . c|, and E[(theta . c)^2] = |c|^2 / D on the sphere
    x = _normal(300, 3, seed=8)
    shift = torch.tensor([1.0, 2.0, 2.0], dtype=F64)
    generator = torch.Generator().manual_seed(9)
    value = sliced_wasserstein(x, x + shift, generator, num_projections=4000).item()
    assert value == pytest.approx(3.0 / math.sqrt(3.0), rel=0.03)
    assert sliced_wasserstein(x, x, generator).item() == 0.0


def test_mmd_same_law_near_zero_shifted_matches_closed_form():
    # N(0, s^2 I_d) vs N(mu, s^2 I_d), one RBF bandwidth h:
    # MMD^2 = 2 (h^2 / (h^2 + 2 s^2))^(d/2) (1 - exp(-|mu|^2 / (2 (h^2 + 2 s^2))))
    d, h, n = 2, 1.0, 1500
    x, x2 = _normal(n, d, seed=10), _normal(n, d, seed=11)
    mu = torch.tensor([0.8, 0.0], dtype=F64)
    same = mmd2_rbf(x, x2, bandwidths=[h]).item()
    shifted = mmd2_rbf(x, x2 + mu, bandwidths=[h]).item()
    expected = 2 * (h ** 2 / (h ** 2 + 2)) ** (d / 2) * (1 - math.exp(-0.64 / (2 * (h ** 2 + 2))))
    assert abs(same) < 2e-3
    assert shifted == pytest.approx(expected, rel=0.1)
    assert shifted > 20 * abs(same)
    biased = mmd2_rbf(x, x2, bandwidths=[h], unbiased=False).item()
    assert biased > same  # the V-statistic adds the positive diagonal terms


def test_median_bandwidths_and_default_mmd():
    x, y = _normal(200, 3, seed=12), _normal(200, 3, seed=13)
    widths = median_bandwidths(x, y)
    assert widths[1] == pytest.approx(2 * widths[0]) == pytest.approx(widths[2] / 2)
    assert widths[1] == pytest.approx(math.sqrt(2 * 3), rel=0.15)  # |X - X'|^2 ~ 2 chi^2_3
    assert mmd2_rbf(x, y + 1.0).item() > 10 * abs(mmd2_rbf(x, y).item())


def test_energy_distance_matches_scipy_and_is_a_metric():
    x, y = _normal(80, seed=14), 0.3 + _normal(90, seed=15)
    expected = stats.energy_distance(x.numpy(), y.numpy())
    assert energy_distance(x, y).item() == pytest.approx(expected, abs=1e-12)
    points = _normal(50, 3, seed=16)
    assert energy_distance(points, points).item() == 0.0
    other = points + 0.5
    assert energy_distance(points, other).item() == pytest.approx(energy_distance(other, points).item())
def test_knn_precision_recall_sees_blur_and_mode_dropping() -> None:
    from genforge.core.metrics.distributions import knn_precision_recall

    generator = torch.Generator().manual_seed(0)
    real = torch.rand(2000, 2, generator=generator)  # uniform on the unit square
    fresh = torch.rand(2000, 2, generator=generator)
    blurred = torch.rand(2000, 2, generator=generator) + 0.15 * torch.randn(2000, 2, generator=generator)
    half = torch.rand(2000, 2, generator=generator) * torch.tensor([0.5, 1.0])  # drops half the support
    p_fresh, r_fresh = knn_precision_recall(fresh, real)
    p_blur, _ = knn_precision_recall(blurred, real)
    p_half, r_half = knn_precision_recall(half, real)
    assert p_fresh > 0.95 and r_fresh > 0.95
    assert p_blur < p_fresh - 0.15
    assert p_half > 0.95 and r_half < 0.6
