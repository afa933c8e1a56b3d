"""One writer per run folder: an advisory ``flock`` on ``<out_dir>/.lock`` held for the whole run.

A second run pointed at the same folder fails at once with a clear error instead of interleaving its
checkpoints and ``metrics.jsonl`` with the first's. The kernel drops the lock when the holder dies (even
by ``kill -9``), so a crashed run never blocks its own ``--resume``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from genforge.core.errors import TrainingError

LOCK_NAME = ".lock"


class RunLock:
    """Context manager holding the exclusive lock of ``directory`` (created if missing)."""

    def __init__(self, directory: str | Path):
        self.path = Path(directory) / LOCK_NAME
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise TrainingError(f"another run (pid {holder}) is writing to this folder; wait for it, or pick "
                                "another train.out_dir", source=self.path.parent) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
