"""CT volumes in HU use the CT window; attenuation maps (e.g. phantoms in [0, 1]) keep their contrast."""

from __future__ import annotations

import numpy as np

from genforge.datasets.volumes import CT_WINDOW_HU, Volume
from genforge.domains.medical.pipeline import to_unit, unit_window


def test_hu_volume_uses_the_ct_window_and_a_unit_phantom_keeps_its_contrast() -> None:
    hu = Volume(np.linspace(-1000, 1500, 1000, dtype=np.float32).reshape(10, 10, 10), np.eye(4), "hu")
    unit = Volume(np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 10, 10), np.eye(4), "unit")
    assert unit_window(hu, "ct") == CT_WINDOW_HU
    mapped = to_unit(unit.data, unit_window(unit, "ct"))
    assert float(mapped.max() - mapped.min()) > 0.95
