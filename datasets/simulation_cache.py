"""Cache-or-simulate for the repository's own simulators (N-body, xTB MD): one file per parameter set."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from genforge.datasets.storage import cache_dir, load_cache, save_cache


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
