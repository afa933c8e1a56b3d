"""Procedural phantoms: deterministic by seed, in [0, 1], distinct across seeds and kinds."""

from __future__ import annotations

import pytest
import torch

from genforge.datasets.phantoms import phantom, phantom_volumes, shepp_logan


@pytest.mark.parametrize("kind", ["shepp_logan", "ellipsoids"])
def test_deterministic_and_in_range(kind: str) -> None:
    a, b, c = phantom(kind, (16, 24, 20), 3), phantom(kind, (16, 24, 20), 3), phantom(kind, (16, 24, 20), 4)
    assert a.shape == (16, 24, 20) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0 and float(a.std()) > 0.05


def test_exact_shepp_logan_is_left_right_symmetric_and_textured_volumes_are_not_piecewise_constant() -> None:
    head = shepp_logan((17, 33, 33))
    assert float((head - head.flip(-1)).abs().mean()) < 0.02
    volume = phantom("ellipsoids", (32, 32, 32), 0)
    inside = volume[volume > 0.05]
    assert inside.unique().numel() > 1000


def test_volume_sets_alternate_kinds_and_do_not_overlap() -> None:
    train, val = phantom_volumes(2, (8, 16, 16), 0), phantom_volumes(2, (8, 16, 16), 1)
    assert train.shape == (2, 8, 16, 16)
    assert not torch.equal(train[0], val[0]) and not torch.equal(train[1], val[1])
