"""Codecs: exact round trips, known-entry masks consistent with the task inputs, scale fitting."""

from __future__ import annotations

import pytest
import torch

from genforge.domains.pde.representation import PhysicalCodec, WaveletCodec, make_codec


def _trajectories(batch: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return torch.randn(batch, 81, 120, generator=generator), torch.randn(batch, 80, 120, generator=generator)


@pytest.mark.parametrize("kind", ["wavelet", "physical"])
@pytest.mark.parametrize("multiple", [4, 16])
def test_round_trip(kind: str, multiple: int) -> None:
    u, f = _trajectories()
    codec = make_codec(kind, multiple=multiple)
    codec.fit_scale(u, f)
    x = codec.encode(u, f)
    assert x.shape == (3, codec.channels, *codec.shape)
    assert all(size % multiple == 0 for size in codec.shape)
    u_back, f_back = codec.decode(x)
    assert (u_back - u).abs().max() < 1e-5 and (f_back - f).abs().max() < 1e-5


def test_wavelet_state_shape_and_end_channels() -> None:
    u, f = _trajectories()
    codec = WaveletCodec("bior2.4", multiple=4)
    assert (codec.channels, codec.shape) == (12, (44, 60))
    u0, u_final = codec.decode_ends(codec.encode(u, f))
    assert torch.allclose(u0, u[:, 0], atol=1e-5) and torch.allclose(u_final, u[:, -1], atol=1e-5)


@pytest.mark.parametrize("kind", ["wavelet", "physical"])
@pytest.mark.parametrize("task", ["simulate", "control"])
def test_condition_fills_exactly_the_known_entries(kind: str, task: str) -> None:
    """condition(inputs) agrees with encode(full trajectory) on every known entry, and known entries
    do not change when the unknown parts of the trajectory change."""
    u, f = _trajectories()
    codec = make_codec(kind)
    codec.fit_scale(u, f)
    known = codec.known(task).expand(3, -1, -1, -1)
    y = codec.condition(u[:, 0], f, None) if task == "simulate" else codec.condition(u[:, 0], None, u[:, -1])
    full = codec.encode(u, f)
    assert torch.allclose(y[known], full[known], atol=1e-5)
    u_other, f_other = u.clone(), f.clone()
    u_other[:, 1:-1] += 1.0
    if task == "control":
        f_other += 1.0
    else:
        u_other[:, -1] += 1.0
    changed = codec.encode(u_other, f_other)
    assert torch.allclose(changed[known], full[known], atol=1e-5)
    assert not torch.allclose(changed[~known], full[~known], atol=1e-3)


def test_physical_known_mask_counts() -> None:
    codec = PhysicalCodec(multiple=4)
    valid = codec.valid()
    assert int(valid.sum()) == 81 * 120 + 80 * 120
    simulate = codec.known("simulate") & valid
    assert int(simulate.sum()) == 120 + 80 * 120
    control = codec.known("control") & valid
    assert int(control.sum()) == 2 * 120


def test_unknown_codec_is_rejected() -> None:
    with pytest.raises(ValueError, match="codec"):
        make_codec("fourier")
