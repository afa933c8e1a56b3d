"""ETH-UCY text loader on a small hand-made scene: parsing, stride, windows, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.errors import DataError
from genforge.datasets.eth_ucy import read_eth_ucy, scene_windows

# pedestrians 1 and 2 walk through frames 0..40 (stride 10); 3 appears from frame 20; rows out of order
SCENE = """\
10.0\t1.0\t1.00\t0.00
0.0\t1.0\t0.00\t0.00
0.0\t2.0\t5.00\t5.00
10\t2\t5.00\t4.50
20 1 2.00 0.00
20 2 5.00 4.00
20 3 -1.0 -1.0
30 1 3.00 0.00
30 2 5.00 3.50
30 3 -1.5 -1.0
40 1 4.00 0.00
40 2 5.00 3.00
40 3 -2.0 -1.0
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scene.txt"
    path.write_text(text)
    return path


def test_reads_and_windows_a_scene(tmp_path: Path) -> None:
    scene = read_eth_ucy(_write(tmp_path, SCENE))
    assert scene.stride == 10 and scene.pos.shape == (13, 2)
    assert scene.frames.tolist() == sorted(scene.frames.tolist())
    windows = scene_windows(scene, span=3)
    assert [w.shape[1] for w in windows] == [2, 2, 3]  # pedestrian 3 is complete only in frames 20..40
    first = windows[0]
    assert torch.allclose(first[:, 0], torch.tensor([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]))
    assert torch.allclose(first[:, 1], torch.tensor([[5.0, 5.0], [5.0, 4.5], [5.0, 4.0]]))
    assert len(scene_windows(scene, span=3, min_agents=3)) == 1


@pytest.mark.parametrize(("text", "message"), [
    ("0 1 0.0\n", "4 columns"),
    ("0 1 a 0.0\n", "non-numeric"),
    ("0 1 nan 0.0\n", "NaN"),
    ("0 1.5 0.0 0.0\n", "integers"),
    ("0 1 0 0\n0 1 1 1\n", "twice"),
    ("\n", "no observations"),
])
def test_malformed_files_raise_one_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message) as info:
        read_eth_ucy(_write(tmp_path, text))
    assert "scene.txt" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        read_eth_ucy(tmp_path / "absent.txt")
