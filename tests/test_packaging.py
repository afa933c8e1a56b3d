"""The root folders are packaged under genforge.* and every package folder is importable."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROOTS = {"core": "genforge.core", "domains": "genforge.domains", "datasets": "genforge.datasets"}


def _package_folders() -> list[str]:
    names = []
    for folder, prefix in ROOTS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            names.append(".".join([prefix, *rel.parts]) if rel.parts else prefix)
    return names


@pytest.mark.parametrize("name", _package_folders())
def test_every_package_folder_imports(name: str) -> None:
    module = importlib.import_module(name)
    assert Path(module.__file__).resolve().is_relative_to(ROOT)


def test_setup_lists_every_package_folder() -> None:
    out = subprocess.run([sys.executable, "-c", (
        "import runpy, setuptools; captured = {};"
        "setuptools.setup = lambda **kw: captured.update(kw);"
        f"runpy.run_path({str(ROOT / 'setup.py')!r});"
        "print('\\n'.join(captured['packages']))")],
        capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
    assert set(_package_folders()) <= set(out)


def test_core_imports_nothing_from_domains_or_datasets() -> None:
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "core").rglob("*.py")
                 if "genforge.domains" in p.read_text() or "genforge.datasets" in p.read_text()]
    assert offenders == []
