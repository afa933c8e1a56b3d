"""3-D wavelet transform (agreement with pywavelets, round trip) and the smoke trajectory codecs."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import pywt
import torch

from genforge.datasets.smoke import control_mask, generate, scaled_config
from genforge.domains.pde.smoke_representation import make_smoke_codec, smoke_fields
from genforge.domains.pde.wavelets import dwtn, filter_bank, idwtn

CFG = scaled_config(16, 8)


@pytest.mark.parametrize("name", ["bior2.4", "db2"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_dwtn_matches_pywt_and_round_trips(name: str, ndim: int) -> None:
    bank = filter_bank(name)
    x = torch.randn(2, 3, *(10, 16, 12)[-ndim:], dtype=torch.float64, generator=torch.Generator().manual_seed(ndim))
    coeffs = dwtn(x, bank, ndim)
    reference = pywt.dwtn(x.numpy(), name, mode="periodization", axes=tuple(range(-ndim, 0)))
    for index, key in enumerate(itertools.product("ad", repeat=ndim)):
        np.testing.assert_allclose(coeffs[:, :, index].numpy(), reference["".join(key)], atol=1e-12)
    inverse = pywt.idwtn(reference, name, mode="periodization", axes=tuple(range(-ndim, 0)))
    np.testing.assert_allclose(idwtn(coeffs, bank, ndim).numpy(), inverse, atol=1e-12)


def test_dwtn_float32_round_trip_1e5() -> None:
    bank = filter_bank("bior2.4")
    x = torch.randn(4, 4, 34, 32, 32, generator=torch.Generator().manual_seed(1))
    assert (idwtn(dwtn(x, bank, 3), bank, 3) - x).abs().max() < 1e-5


@pytest.fixture(scope="module")
def fields() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return smoke_fields(generate(6, 0, CFG), CFG)


@pytest.mark.parametrize("kind", ["smoke_wavelet", "smoke_physical"])
def test_codec_round_trip_band_and_fraction(kind: str, fields: tuple[torch.Tensor, ...]) -> None:
    codec = make_smoke_codec(kind, CFG, multiple=2)
    codec.fit_scale(*fields)
    x = codec.encode(*fields)
    assert x.shape[1:] == (codec.channels, *codec.shape) and torch.isfinite(x).all()
    for decoded, original in zip(codec.decode(x), fields, strict=True):
        assert (decoded - original).abs().max() < 1e-5
    _, noisy_control, _ = codec.decode(x + torch.randn_like(x))
    assert noisy_control[..., ~control_mask(CFG)].abs().max() == 0       # forces only in the band
    valid = codec.valid()
    assert (x * ~valid).abs().max() < 1e-6 and (codec.known("control") <= codec.known("simulate")).all()


@pytest.mark.parametrize("kind", ["smoke_wavelet", "smoke_physical"])
def test_condition_pins_exactly_the_initial_state(kind: str, fields: tuple[torch.Tensor, ...]) -> None:
    """Changing everything but rho0 leaves the known entries of 'control' unchanged; changing rho0 does not."""
    density, control, fraction = fields
    codec = make_smoke_codec(kind, CFG, multiple=2)
    codec.fit_scale(*fields)
    known = codec.known("control").expand(density.shape[0], -1, -1, -1, -1)
    reference = codec.condition(density[:, 0])
    other = codec.encode(torch.cat([density[:, :1], density.flip(0)[:, 1:]], 1), control.flip(0), fraction.flip(0))
    assert torch.allclose(reference[known], other[known], atol=1e-5)
    moved = codec.condition(density.flip(0)[:, 0])
    assert not torch.allclose(reference[known], moved[known], atol=1e-3)
