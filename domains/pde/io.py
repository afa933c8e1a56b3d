"""Reading and writing Burgers ``.npz`` files with one clear error per problem, and atomic writes.

Trajectory files hold ``u`` ``[N, 81, 120]`` and ``f`` ``[N, 80, 120]`` (float32) plus scalar metadata.
Initial-state files hold ``u0`` ``[N, 120]`` (or a trajectory file: its ``u[:, 0]``); target files hold
``target`` ``[N, 120]`` (or a trajectory file: its ``u[:, -1]``). A single state ``[120]`` counts as N = 1.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.burgers import NUM_INTERVALS, NUM_X

NUM_T = NUM_INTERVALS + 1


def _open(path: Path) -> Mapping[str, np.ndarray]:
    if not path.is_file():
        raise DataError("file not found", source=path)
    if not zipfile.is_zipfile(path):
        raise DataError("not an .npz archive (empty, truncated or another kind of file)", source=path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"not a readable .npz archive ({error})", source=path) from error


def _checked(array: np.ndarray, path: Path, key: str, shape: tuple[int, ...]) -> Tensor:
    """``array`` as float64 if it has ``shape`` (-1 = any) and only finite values, else DataError."""
    expected = " x ".join("N" if s < 0 else str(s) for s in shape)
    if array.ndim != len(shape) or any(s >= 0 and a != s for a, s in zip(array.shape, shape, strict=True)):
        raise DataError(f"expected shape [{expected}] (the {NUM_X}-point x {NUM_T}-frame grid of the models), "
                        f"got {list(array.shape)}", source=path, field=key)
    if not np.issubdtype(array.dtype, np.number):
        raise DataError(f"expected numbers, got dtype {array.dtype}", source=path, field=key)
    if not np.isfinite(array).all():
        raise DataError(f"contains {int((~np.isfinite(array)).sum())} NaN/inf values", source=path, field=key)
    return torch.from_numpy(array.astype(np.float64))


def load_trajectories(path: str | Path) -> dict[str, Tensor]:
    """``{"u": [N, 81, 120], "f": [N, 80, 120]}`` (float64) from a trajectory file."""
    path = Path(path)
    data = _open(path)
    for key in ("u", "f"):
        if key not in data:
            raise DataError(f"missing key {key!r} (a trajectory file needs 'u' [N, {NUM_T}, {NUM_X}] and "
                            f"'f' [N, {NUM_INTERVALS}, {NUM_X}]; found {sorted(data)})", source=path, field=key)
    u = _checked(data["u"], path, "u", (-1, NUM_T, NUM_X))
    f = _checked(data["f"], path, "f", (u.shape[0], NUM_INTERVALS, NUM_X))
    return {"u": u, "f": f}


def load_states(path: str | Path, key: str, frame: int) -> Tensor:
    """States ``[N, 120]`` (float64) from ``key`` or, failing that, frame ``frame`` of a trajectory ``u``."""
    path = Path(path)
    data = _open(path)
    if key in data:
        array = data[key]
        array = array[None] if array.ndim == 1 else array
        return _checked(array, path, key, (-1, NUM_X))
    if "u" in data:
        return _checked(data["u"], path, "u", (-1, NUM_T, NUM_X))[:, frame]
    raise DataError(f"missing key {key!r} [N, {NUM_X}] (or a trajectory 'u' [N, {NUM_T}, {NUM_X}]); "
                    f"found {sorted(data)}", source=path, field=key)


def save_npz(path: str | Path, arrays: Mapping[str, Tensor | np.ndarray | float | int]) -> Path:
    """Write ``arrays`` to ``path`` atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".npz")
    os.close(handle)
    try:
        values = {k: (v.detach().cpu().numpy() if isinstance(v, Tensor) else np.asarray(v)) for k, v in arrays.items()}
        np.savez(temp, **values)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path


def load_fields(path: str | Path, key: str) -> Tensor:
    """Space-time fields ``[N, K, X]`` (float64; a single ``[K, X]`` counts as N = 1) from ``key`` of an .npz.

    Any grid of at least 4 x 4 is accepted (the super-resolution model is fully convolutional).
    """
    path = Path(path)
    data = _open(path)
    if key not in data:
        raise DataError(f"missing key {key!r} (fields [N, K, X]); found {sorted(data)}", source=path, field=key)
    array = data[key]
    array = array[None] if array.ndim == 2 else array
    if array.ndim != 3 or min(array.shape[1:]) < 4:
        raise DataError(f"expected fields [N, K, X] with K, X >= 4, got {list(data[key].shape)}", source=path,
                        field=key)
    return _checked(array, path, key, (-1, -1, -1))
