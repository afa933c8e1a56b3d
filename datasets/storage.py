"""Where data lives and where parsed data is cached.

Data root (read-only inputs such as ``perov_5/val.csv``), first match wins:
    1. the ``root`` argument of a loader;
    2. the environment variable ``GENFORGE_DATA``;
    3. ``../shared/data`` next to the repository checkout (this file's ``<repo>/datasets/..``).
Nothing is ever copied into the repository.

Cache (parsed tensors, safe to delete), first match wins: ``GENFORGE_CACHE``; ``$XDG_CACHE_HOME/genforge``;
``~/.cache/genforge``. Cache files are keyed by the SHA-256 of the source file(s) and the parse options,
written atomically (temp file + ``os.replace``) and read with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from genforge.core.errors import DataError

LOGGER = logging.getLogger(__name__)
_REPO_ROOT = Path(__file__).resolve().parents[1]


def data_root(root: str | Path | None = None) -> Path:
    """The data root folder: ``root`` if given, else ``$GENFORGE_DATA``, else ``<repo>/../shared/data``."""
    if root is not None:
        return Path(root)
    if os.environ.get("GENFORGE_DATA"):
        return Path(os.environ["GENFORGE_DATA"])
    return _REPO_ROOT.parent / "shared" / "data"


def cache_dir() -> Path:
    """The cache folder for parsed datasets (created on first write, never inside the repository)."""
    if os.environ.get("GENFORGE_CACHE"):
        return Path(os.environ["GENFORGE_CACHE"])
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "genforge"


def file_digest(paths: Iterable[str | Path]) -> str:
    """Hex SHA-256 over the bytes of ``paths`` in order (identifies a source for the cache)."""
    digest = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 24), b""):
                digest.update(chunk)
    return digest.hexdigest()


def read_text(path: str | Path) -> str:
    """The UTF-8 text of ``path``; DataError naming the file when it is missing, unreadable or binary."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found", source=path)
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not a UTF-8 text file (binary data at byte {err.start})", source=path) from err
    except OSError as err:
        raise DataError(f"cannot read: {err.strerror}", source=path) from err


def contained_path(base: str | Path, relative: str, *, source: Path, field: str) -> Path:
    """``base / relative`` for a file name read from a data file; DataError when the name is absolute or its
    ``..`` parts lead out of ``base`` (a hostile transforms.json or images.txt must not read other files)."""
    parts = Path(relative)
    depth = 0
    for part in parts.parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            break
    if parts.is_absolute() or parts.drive or depth < 0:
        raise DataError(f"file name {relative!r} points outside the data folder {str(base)!r}; expected a path "
                        "relative to it", source=source, field=field)
    return Path(base) / parts


def require_file(path: str | Path, hint: str) -> Path:
    """``path`` as a Path, or a DataError saying it is missing and how to point the loader at it."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found; {hint}", source=path)
    return path


def load_cache(path: Path) -> dict[str, Any] | None:
    """The cached dict at ``path``, or None if absent or unreadable (then it is rebuilt)."""
    if not path.is_file():
        return None
    try:
        return torch.load(path, weights_only=True)
    except Exception:  # truncated / foreign / old-format file: any failure means "rebuild it"
        LOGGER.warning("ignoring unreadable cache file %s", path)
        return None


def save_cache(path: Path, payload: dict[str, Any]) -> None:
    """Write ``payload`` (tensors, numbers, strings, lists, dicts) atomically to ``path``.

    A cache that cannot be written (read-only home, full disk) only costs a re-parse next time: it is
    logged, not raised.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        LOGGER.warning("cannot write the data cache %s (%s); set GENFORGE_CACHE to a writable folder",
                       path, error)
        return
    os.close(handle)
    try:
        torch.save(payload, temp_name)
        os.replace(temp_name, path)
    except OSError as error:
        LOGGER.warning("cannot write the data cache %s (%s)", path, error)
    finally:
        if os.path.exists(temp_name):
            os.remove(temp_name)
