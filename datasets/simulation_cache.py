"""Cache-or-simulate for the repository's own simulators (N-body, xTB MD): one file per parameter set; and the
chunked, progress-reporting batch loop of the vectorised PDE solvers (Burgers, smoke)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, TypeVar

import torch

from genforge.datasets.storage import cache_dir, load_cache, save_cache

Part = TypeVar("Part")


def cached_simulation(folder: str, name: str, key: dict[str, Any],
                      simulate: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The payload in ``<cache_dir>/<folder>/<name>_<hash of key>.pt``, from ``simulate()`` (then saved) when
    the file is absent or unreadable.

    Args:
        folder: sub-folder of the cache (one per simulator).
        name: file-name prefix (e.g. the molecule).
        key: every parameter the result depends on (JSON-serialisable; include a format version).
        simulate: runs the simulation, returns the payload (tensors, numbers, lists).
    """
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    path = cache_dir() / folder / f"{name}_{digest}.pt"
    payload = load_cache(path)
    if payload is None:
        payload = simulate()
        save_cache(path, payload)
    return payload


def simulate_in_chunks(simulate_chunk: Callable[[slice], Part], num: int, chunk: int,
                       progress: Callable[[int], None] | None = None) -> list[Part]:
    """``simulate_chunk(rows)`` (no autograd) for consecutive row slices of at most ``chunk`` of ``num`` problems,
    calling ``progress(done)`` after each; the results in order (empty for ``num == 0``)."""
    parts = []
    for start in range(0, num, chunk):
        rows = slice(start, min(start + chunk, num))
        with torch.no_grad():
            parts.append(simulate_chunk(rows))
        if progress is not None:
            progress(rows.stop)
    return parts
