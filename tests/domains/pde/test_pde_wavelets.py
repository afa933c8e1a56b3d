"""Periodized DWT as convolutions: agreement with pywavelets, round trips, differentiable inverse."""

from __future__ import annotations

import numpy as np
import pytest
import pywt
import torch

from genforge.domains.pde.wavelets import dwt1d, dwt2d, filter_bank, idwt1d, idwt2d


@pytest.mark.parametrize("name", ["bior2.4", "haar", "db4", "sym5"])
@pytest.mark.parametrize("length", [10, 81, 120])
def test_dwt1d_matches_pywt(name: str, length: int) -> None:
    bank = filter_bank(name)
    x = torch.randn(3, length, dtype=torch.float64, generator=torch.Generator().manual_seed(length))
    coeffs = dwt1d(x, bank)
    approx, detail = pywt.dwt(x.numpy(), name, mode="periodization")
    np.testing.assert_allclose(coeffs[:, 0].numpy(), approx, atol=1e-12)
    np.testing.assert_allclose(coeffs[:, 1].numpy(), detail, atol=1e-12)
    np.testing.assert_allclose(idwt1d(coeffs, bank).numpy(), pywt.idwt(approx, detail, name, mode="periodization"),
                               atol=1e-12)


@pytest.mark.parametrize("name", ["bior2.4", "db2"])
def test_dwt2d_matches_pywt_subband_order(name: str) -> None:
    bank = filter_bank(name)
    x = torch.randn(2, 3, 82, 120, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    coeffs = dwt2d(x, bank)
    approx, (horizontal, vertical, diagonal) = pywt.dwt2(x.numpy(), name, mode="periodization")
    for index, reference in enumerate((approx, horizontal, vertical, diagonal)):
        np.testing.assert_allclose(coeffs[:, :, index].numpy(), reference, atol=1e-12)


def test_round_trip_float32_and_odd_lengths() -> None:
    bank = filter_bank("bior2.4")
    x = torch.randn(4, 2, 82, 120, generator=torch.Generator().manual_seed(1))
    assert (idwt2d(dwt2d(x, bank), bank) - x).abs().max() < 1e-5
    odd = torch.randn(5, 81, dtype=torch.float64)
    assert torch.allclose(idwt1d(dwt1d(odd, bank), bank)[:, :81], odd, atol=1e-12)


def test_inverse_is_differentiable_and_linear() -> None:
    bank = filter_bank("bior2.4")
    coeffs = torch.randn(1, 4, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: idwt2d(c, bank), (coeffs,))
    other = torch.randn_like(coeffs)
    assert torch.allclose(idwt2d(2 * coeffs + other, bank), 2 * idwt2d(coeffs, bank) + idwt2d(other, bank))

