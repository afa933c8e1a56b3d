"""PSNR, SSIM (vs an independent sliding-window reference of Wang et al. 2004) and per-axis volume metrics."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pytest
import torch

from genforge.core.metrics import gaussian_window, per_axis, psnr, ssim

F64 = torch.float64


def _images(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _reference_ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """Eq. (13) of Wang et al. 2004, one 11 x 11 window at a time (weights w, sum 1), valid positions."""
    taps = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5 ** 2))
    w = np.outer(taps, taps) / np.outer(taps, taps).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    px = np.lib.stride_tricks.sliding_window_view(x, (11, 11))  # [H-10, W-10, 11, 11]
    py = np.lib.stride_tricks.sliding_window_view(y, (11, 11))
    mx, my = (px * w).sum((-1, -2)), (py * w).sum((-1, -2))
    vx = (w * (px - mx[..., None, None]) ** 2).sum((-1, -2))
    vy = (w * (py - my[..., None, None]) ** 2).sum((-1, -2))
    cxy = (w * (px - mx[..., None, None]) * (py - my[..., None, None])).sum((-1, -2))
    index = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2))
    return float(index.mean())


def test_psnr_closed_form():
    x = torch.zeros(2, 1, 4, 4, dtype=F64)
    y = x.clone()
    y[0] += 0.1  # MSE 0.01 -> 20 dB at range 1, 40 dB at range 10
    assert psnr(x, y)[0].item() == pytest.approx(20.0)
    assert psnr(x, y, data_range=10.0)[0].item() == pytest.approx(40.0)
    assert math.isinf(psnr(x, y)[1].item())


def test_gaussian_window():
    taps = gaussian_window(11, 1.5, F64)
    assert taps.sum().item() == pytest.approx(1.0) and taps.argmax().item() == 5
    assert torch.allclose(taps, taps.flip(0))
    assert taps[6] / taps[5] == pytest.approx(math.exp(-1 / (2 * 1.5 ** 2)))


def test_ssim_matches_sliding_window_reference():
    x = _images((2, 2, 20, 17))
    y = (x + 0.2 * _images((2, 2, 20, 17), seed=1)).clamp(0, 1)
    ours = ssim(x, y, data_range=1.0)
    for b in range(2):
        expected = np.mean([_reference_ssim(x[b, c].numpy(), y[b, c].numpy(), 1.0) for c in range(2)])
        assert ours[b].item() == pytest.approx(expected, abs=1e-12)


def test_ssim_properties():
    x = _images((3, 1, 24, 24))
    noise = _images((3, 1, 24, 24), seed=2) - 0.5
    assert torch.allclose(ssim(x, x), torch.ones(3, dtype=F64), atol=1e-12)
    y = x + 0.1 * noise
    assert torch.allclose(ssim(x, y), ssim(y, x), atol=1e-14)
    scores = [ssim(x, x + level * noise).mean().item() for level in (0.05, 0.2, 0.5)]
    assert 1 > scores[0] > scores[1] > scores[2]
    assert ssim(2 * x, 2 * y, data_range=2.0) == pytest.approx(ssim(x, y), abs=1e-12)  # scale invariance
    with pytest.raises(ValueError, match="smaller than"):
        ssim(x[..., :8], y[..., :8])


def test_per_axis_averages_slices_along_each_axis():
    x = _images((2, 1, 12, 13, 14))
    y = (x + 0.1 * _images((2, 1, 12, 13, 14), seed=3)).clamp(0, 1)
    values = per_axis(psnr, x, y)
    assert set(values) == {"D", "H", "W"} and values["D"].shape == (2,)
    by_hand = torch.stack([psnr(x[:, :, :, h], y[:, :, :, h]) for h in range(13)], dim=1).mean(1)
    assert torch.allclose(values["H"], by_hand)
    structural = per_axis(partial(ssim, data_range=1.0), x, y)
    by_hand = torch.stack([ssim(x[:, :, d], y[:, :, d]) for d in range(12)], dim=1).mean(1)
    assert torch.allclose(structural["D"], by_hand)
    assert not torch.allclose(structural["D"], structural["W"])
