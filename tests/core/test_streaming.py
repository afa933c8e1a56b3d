"""Chunked sampling to .npy: same array as one big draw, and no file left behind on failure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genforge.core.streaming import stream_to_npy


def draw(start: int, count: int) -> torch.Tensor:
    return torch.arange(start, start + count, dtype=torch.float32)[:, None].repeat(1, 3) * torch.tensor([1, -1, 2])


@pytest.mark.parametrize("chunk", [1, 7, 20, 50])
def test_chunks_assemble_the_full_array(tmp_path: Path, chunk: int) -> None:
    path = stream_to_npy(tmp_path / "s.npy", 20, chunk, draw, progress=False)
    assert np.array_equal(np.load(path), draw(0, 20).numpy())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.npy"]


def test_failure_mid_way_leaves_no_file(tmp_path: Path) -> None:
    def failing(start: int, count: int) -> torch.Tensor:
        if start >= 10:
            raise RuntimeError("model crashed")
        return draw(start, count)

    with pytest.raises(RuntimeError):
        stream_to_npy(tmp_path / "s.npy", 30, 5, failing, progress=False)
    assert list(tmp_path.iterdir()) == []
