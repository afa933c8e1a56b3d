"""CT-like body phantoms: deterministic by seed, in CT-window units with the tissue classes of an abdomen CT."""

from __future__ import annotations

import torch

from genforge.domains.medical.body_phantoms import FAT, MUSCLE, body_phantom, body_volumes


def test_body_phantom_is_deterministic_and_has_ct_tissue_classes() -> None:
    a, b, c = body_phantom((24, 48, 48), 5), body_phantom((24, 48, 48), 5), body_phantom((24, 48, 48), 6)
    assert a.shape == (24, 48, 48) and a.dtype == torch.float32
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c)
    assert float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    fractions = {name: float(mask.float().mean()) for name, mask in {
        "air": a < 0.05, "fat": (a - FAT).abs() < 0.03, "soft": (a - MUSCLE).abs() < 0.03, "bone": a > 0.75}.items()}
    assert fractions["air"] > 0.02 and fractions["fat"] > 0.1 and fractions["soft"] > 0.05
    assert 0.0005 < fractions["bone"] < 0.1
    assert a[(a - MUSCLE).abs() < 0.03].unique().numel() > 100  # textured, not piecewise constant


def test_body_volume_sets_do_not_overlap_across_seeds() -> None:
    train, val = body_volumes(2, (8, 32, 32), 0), body_volumes(2, (8, 32, 32), 1)
    assert train.shape == (2, 8, 32, 32)
    assert all(not torch.equal(t, v) for t in train for v in val)
