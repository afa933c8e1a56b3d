"""Atomic file writes: the content goes to a hidden temporary file in the target's folder, which one
``os.replace`` then renames over the target, so a reader (or a killed run) never sees half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temp)`` on a temporary path with ``path``'s suffix, then rename it to ``path``.

    The parent folder is created; on any error the temporary file is removed and ``path`` is untouched.
    The file gets mode 0644 (``mkstemp`` would leave 0600).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        write(temp)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` atomically, flushed to disk (fsync) before the rename."""
    def write(temp: Path) -> None:
        with open(temp, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())

    return atomic_write(path, write)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 ``text`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _plain(value: Any) -> Any:
    """JSON fallback for numpy / torch scalars (``float``) and anything else (``str``)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def write_json(payload: Any, path: str | Path) -> Path:
    """``payload`` as indented JSON, written atomically (numpy / torch scalars become floats)."""
    return atomic_write_text(path, json.dumps(payload, indent=2, default=_plain))


def save_figure(figure: Any, path: str | Path, **savefig: Any) -> Path:
    """Save a matplotlib ``figure`` atomically (format from ``path``'s suffix) and close it, also on error."""
    import matplotlib.pyplot as plt

    try:
        return atomic_write(path, lambda temp: figure.savefig(temp, format=Path(path).suffix.lstrip(".") or None,
                                                              **savefig))
    finally:
        plt.close(figure)
