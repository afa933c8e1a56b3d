"""Atomic writes: the target is either the old file or the whole new one, never half; no temp files stay."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from genforge.core.atomic import atomic_write, atomic_write_text, save_figure, write_json


def test_write_json_round_trips_numpy_and_torch_scalars(tmp_path: Path) -> None:
    path = write_json({"a": np.float32(0.5), "b": torch.tensor(2.0), "c": [1, "x"]}, tmp_path / "sub" / "m.json")
    assert json.loads(path.read_text()) == {"a": 0.5, "b": 2.0, "c": [1, "x"]}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["m.json"]


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = atomic_write_text(tmp_path / "out.txt", "old")

    def half_then_fail(temp: Path) -> None:
        temp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_the_temp_file_keeps_the_suffix_for_format_sniffing_writers(tmp_path: Path) -> None:
    seen = []
    atomic_write(tmp_path / "turntable.gif", lambda temp: (seen.append(temp.suffix), temp.write_bytes(b"GIF89a")))
    assert seen == [".gif"] and (tmp_path / "turntable.gif").read_bytes() == b"GIF89a"


def test_save_figure_writes_a_png_and_closes_the_figure(tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    figure = plt.figure(figsize=(2, 1))
    path = save_figure(figure, tmp_path / "plot.png", dpi=50)
    assert Image.open(path).size == (100, 50)
    assert not plt.fignum_exists(figure.number)
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]
