"""The genforge CLI: help, version, and one-line user errors with exit code 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import genforge


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "genforge", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_help_lists_commands() -> None:
    result = _run("--help")
    assert result.returncode == 0
    for command in ("train", "version", "demo"):
        assert command in result.stdout


def test_version() -> None:
    result = _run("version")
    assert result.returncode == 0 and result.stdout.strip() == genforge.__version__


def test_missing_config_is_one_line_exit_2(tmp_path: Path) -> None:
    result = _run("train", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 2
    assert "nope.yaml" in result.stderr and "Traceback" not in result.stderr


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("task: toy2d\ndataset: checkerboard\ntrain:\n  stepz: 3\n")
    result = _run("train", "--config", str(recipe))
    assert result.returncode == 2
    assert "bad.yaml" in result.stderr and "stepz" in result.stderr and "steps" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_traceback(tmp_path: Path) -> None:
    result = _run("--debug", "train", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode != 0 and "Traceback" in result.stderr
