"""Bounded-memory sampling: draw a large number of samples chunk by chunk straight into a ``.npy`` file.

``stream_to_npy(path, total, chunk, draw)`` calls ``draw(start, count)`` for consecutive chunks and writes
each into a memory-mapped ``.npy`` (numpy's format, readable with ``np.load(..., mmap_mode="r")``); the
file appears under its name only when complete (temp file + rename). Peak memory is one chunk plus the
model, whatever ``total`` is. A chunk's randomness should be derived from ``(seed, start)`` by ``draw`` so
that results do not depend on how much was drawn before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from rich.progress import Progress
from torch import Tensor

DrawFn = Callable[[int, int], Tensor]
"""``draw(start, count) -> samples [count, ...]`` for sample indices ``start .. start + count - 1``."""


def stream_to_npy(path: str | Path, total: int, chunk: int, draw: DrawFn, *, progress: bool = True) -> Path:
    """Write ``total`` samples to ``path`` (``.npy``) in chunks of ``chunk``; returns ``path``."""
    if total < 1 or chunk < 1:
        raise ValueError(f"total and chunk must be >= 1, got {total} and {chunk}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    first = draw(0, min(chunk, total)).detach().cpu().numpy()
    array = np.lib.format.open_memmap(tmp, mode="w+", dtype=first.dtype, shape=(total, *first.shape[1:]))
    try:
        array[: len(first)] = first
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("sampling", total=total, completed=len(first))
            for start in range(len(first), total, chunk):
                count = min(chunk, total - start)
                array[start:start + count] = draw(start, count).detach().cpu().numpy()
                bar.advance(task, count)
        array.flush()
        del array
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
