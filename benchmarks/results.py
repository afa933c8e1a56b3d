"""Append a dated, machine- and commit-stamped section to benchmarks/RESULTS.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
from pathlib import Path

import torch

from genforge.core.atomic import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> str:
    """One line naming the machine: CPU model and core count, or the CUDA device."""
    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}"


def commit() -> str:
    """Short hash of HEAD (with ``+dirty`` when the tree has changes), or ``unknown``."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True, cwd=RESULTS.parent).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True,
                               check=True, cwd=RESULTS.parent).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def append_result(title: str, body_markdown: str) -> None:
    """Append ``## title`` with date, machine and commit, then the body, to RESULTS.md."""
    stamp = f"{dt.date.today().isoformat()} · {machine()} · commit {commit()}"
    section = f"\n## {title}\n\n_{stamp}_\n\n{body_markdown.strip()}\n"
    if not RESULTS.exists():
        RESULTS.write_text("# Benchmark results\n\nEach section is appended by the script named in it.\n")
    with RESULTS.open("a") as fh:
        fh.write(section)


def replace_marked_section(readme: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in ``readme`` by ``body``."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), flags=re.DOTALL)
    text = pattern.sub(lambda _: f"{begin}\n{body.strip()}\n{end}", readme.read_text(), count=1)
    atomic_write_text(readme, text)


def publish(title: str, body: str, readme: Path | None = None, marker: str = "") -> None:
    """Print ``body``, append it to RESULTS.md under ``title`` and, with ``readme``, also put it (stamped with
    machine and commit) between that README's ``marker`` comments."""
    print(body)
    append_result(title, body)
    if readme is not None:
        replace_marked_section(readme, marker, f"_{machine()} · commit {commit()}_\n\n{body}")
