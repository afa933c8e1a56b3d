"""The bad-input corpus: generic corruptions of a valid file plus format-specific bad files.

Each case is ``(reader, case, make)`` where ``make(folder) -> path`` writes the bad file. Generic
corruptions apply to every reader: empty, truncated, binary garbage, another format's content under the
reader's extension, and garbage under a non-UTF-8 file name.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
Maker = Callable[[Path], Path]


def _writer(name: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = folder / name
        path.write_bytes(content)
        return path

    return make


def _non_utf8_name(suffix: str, content: bytes) -> Maker:
    def make(folder: Path) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(folder), b"caf\xe9_\xff" + suffix.encode())))
        path.write_bytes(content)
        return path

    return make


def generic_cases(valid: bytes, suffix: str, other_format: bytes) -> dict[str, Maker]:
    """The five corruptions every reader must reject with one clear error."""
    garbage = random.Random(0).randbytes(700)
    return {
        "empty file": _writer(f"empty{suffix}", b""),
        "truncated file": _writer(f"truncated{suffix}", valid[: len(valid) // 3]),
        "binary garbage": _writer(f"garbage{suffix}", garbage),
        "wrong format for the extension": _writer(f"other{suffix}", other_format),
        "non-UTF-8 file name": _non_utf8_name(suffix, garbage),
    }


def fixture(relative: str) -> Maker:
    """A shipped bad fixture, copied so the error names a file in the test's folder."""
    def make(folder: Path) -> Path:
        source = FIXTURES / relative
        path = folder / source.name
        path.write_bytes(source.read_bytes())
        return path

    return make


def replaced(source: Path, old: str, new: str, name: str) -> Maker:
    """A valid file with one substring replaced."""
    text = source.read_text()
    assert old in text, (source, old)
    return _writer(name, text.replace(old, new, 1).encode())


def written(name: str, content: bytes) -> Maker:
    """A file with the given bytes."""
    return _writer(name, content)
