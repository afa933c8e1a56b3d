"""Checkpoint files: atomic writes, an embedded content digest, rotation of the last K, ``latest(dir)``.

A checkpoint is one ``torch.save`` file holding a nested dict of tensors, dicts, lists, tuples, ints,
floats, strings, bools and None, so ``torch.load(path, weights_only=True)`` reads it. The key
``"sha256"`` holds a digest of everything else (dtype, shape and bytes of each tensor, type and value of
each scalar, in order); :func:`load_checkpoint` recomputes it, so a truncated or bit-flipped file raises
:class:`~genforge.core.errors.CheckpointError` naming the file instead of resuming from garbage. Files
are written to a temporary name in the same folder, flushed to disk, then renamed over the target
(``os.replace`` is atomic on POSIX), so a crash mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from genforge.core.atomic import atomic_write_bytes
from genforge.core.errors import CheckpointError

DIGEST_KEY = "sha256"
LAST_NAME = "last.pt"
_STEP_PATTERN = re.compile(r"^step_(\d+)\.pt$")


def payload_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of a checkpoint payload, ignoring its ``"sha256"`` key."""
    hasher = hashlib.sha256()
    _feed(hasher, {key: value for key, value in payload.items() if key != DIGEST_KEY})
    return hasher.hexdigest()


def _feed(hasher: Any, value: Any) -> None:
    """Hash ``value`` with a type tag so that e.g. ``1``, ``1.0`` and ``"1"`` differ."""
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        hasher.update(f"T{tensor.dtype}{tuple(tensor.shape)};".encode())
        hasher.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, Mapping):
        hasher.update(f"D{len(value)};".encode())
        for key, item in value.items():
            _feed(hasher, key)
            _feed(hasher, item)
    elif isinstance(value, (list, tuple)):
        hasher.update(f"{type(value).__name__[0]}{len(value)};".encode())
        for item in value:
            _feed(hasher, item)
    elif value is None or isinstance(value, (bool, int, float, str)):
        hasher.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        raise TypeError(f"checkpoint payloads hold only tensors, containers and scalars, got {type(value)}")


def _serialize(payload: Mapping[str, Any]) -> bytes:
    """``torch.save`` bytes of ``payload`` with its digest added."""
    buffer = io.BytesIO()
    torch.save({**payload, DIGEST_KEY: payload_digest(payload)}, buffer)
    return buffer.getvalue()


def write_checkpoint(payload: Mapping[str, Any], path: str | Path) -> None:
    """Write ``payload`` plus its digest to ``path`` atomically."""
    atomic_write_bytes(path, _serialize(payload))


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read and verify a checkpoint written by :func:`write_checkpoint`.

    Raises:
        CheckpointError: the file is missing, unreadable (truncated, not a torch file, holds pickled
            objects) or its content does not match its digest.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError("checkpoint file not found", source=path)
    if not zipfile.is_zipfile(path):
        raise CheckpointError("not a readable checkpoint (truncated or corrupted, or not a torch.save zip archive: "
                              "empty or another kind of file?)", source=path)
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise CheckpointError("holds pickled Python objects besides tensors and containers; refused "
                              "(genforge loads checkpoints with weights_only=True)", source=path) from err
    except Exception as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"unreadable checkpoint (truncated or corrupted?): {first_line}", source=path) from err
    if not isinstance(payload, dict) or DIGEST_KEY not in payload:
        raise CheckpointError(f"not a genforge checkpoint (no '{DIGEST_KEY}' digest)", source=path)
    try:
        digest = payload_digest(payload)
    except TypeError as err:
        raise CheckpointError(f"unexpected content: {err}", source=path) from err
    if digest != payload[DIGEST_KEY]:
        raise CheckpointError("content does not match its sha256 digest: the file is corrupted", source=path)
    return payload


def step_path(directory: str | Path, step: int) -> Path:
    """``directory/step_XXXXXXXX.pt`` for a step count."""
    return Path(directory) / f"step_{step:08d}.pt"


def step_checkpoints(directory: str | Path) -> list[tuple[int, Path]]:
    """``(step, path)`` of every ``step_*.pt`` file in ``directory``, by increasing step."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = ((_STEP_PATTERN.match(entry.name), entry) for entry in directory.iterdir())
    return sorted((int(match.group(1)), entry) for match, entry in found if match)


def save_rotating(payload: Mapping[str, Any], directory: str | Path, step: int, keep_last: int) -> Path:
    """Write ``step_XXXXXXXX.pt`` (when ``keep_last > 0``) and ``last.pt``; keep the newest ``keep_last``
    step files up to ``step`` and delete those after it (left by a run this one restarted or resumed
    from an earlier checkpoint).

    Returns:
        the path of ``last.pt``.
    """
    directory = Path(directory)
    data = _serialize(payload)
    if keep_last > 0:
        atomic_write_bytes(step_path(directory, step), data)
    last = directory / LAST_NAME
    atomic_write_bytes(last, data)
    existing = step_checkpoints(directory)
    earlier = [path for saved_step, path in existing if saved_step <= step]
    later = [path for saved_step, path in existing if saved_step > step]
    for path in earlier[: max(len(earlier) - keep_last, 0)] + later:
        path.unlink(missing_ok=True)
    return last


def latest(directory: str | Path) -> Path | None:
    """The newest checkpoint in ``directory``: ``last.pt``, else the highest ``step_*.pt``, else None."""
    last = Path(directory) / LAST_NAME
    if last.is_file():
        return last
    steps = step_checkpoints(directory)
    return steps[-1][1] if steps else None
