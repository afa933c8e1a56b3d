"""Data root and cache folder resolution; atomic cache writes read back with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.errors import DataError
from genforge.datasets.storage import cache_dir, contained_path, data_root, file_digest, load_cache, save_cache


def test_data_root_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENFORGE_DATA", raising=False)
    repo = Path(__file__).resolve().parents[2]
    assert data_root() == repo.parent / "shared" / "data"
    monkeypatch.setenv("GENFORGE_DATA", str(tmp_path / "env"))
    assert data_root() == tmp_path / "env"
    assert data_root(tmp_path / "arg") == tmp_path / "arg"


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENFORGE_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "genforge"
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_save_load_round_trip_and_corrupt_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "entry.pt"
    payload = {"x": torch.arange(4), "names": ["a", "b"], "rows": [[1, "id", "why"]], "none": None}
    save_cache(path, payload)
    assert [p.name for p in path.parent.iterdir()] == ["entry.pt"]
    loaded = load_cache(path)
    assert torch.equal(loaded["x"], payload["x"]) and loaded["names"] == ["a", "b"]
    assert loaded["rows"] == [[1, "id", "why"]] and loaded["none"] is None
    path.write_bytes(b"truncated")
    assert load_cache(path) is None
    assert load_cache(tmp_path / "absent.pt") is None


def test_file_digest_depends_on_content_and_order(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.write_text("alpha")
    second.write_text("beta")
    assert file_digest([first, second]) != file_digest([second, first])
    digest = file_digest([first])
    first.write_text("alpha!")
    assert file_digest([first]) != digest


@pytest.mark.parametrize("name", ["./train/r_0.png", "a/../b.png", "images/x y.png"])
def test_contained_path_keeps_names_inside_the_folder(tmp_path: Path, name: str) -> None:
    assert contained_path(tmp_path, name, source=tmp_path / "t.json", field="f") == tmp_path / name


@pytest.mark.parametrize("name", ["../secret.png", "a/../../secret.png", "/etc/passwd", "./../x"])
def test_contained_path_refuses_escapes_naming_file_and_field(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match=r"t\.json.*frames\[3\]\.file_path.*outside"):
        contained_path(tmp_path, name, source=tmp_path / "t.json", field="frames[3].file_path")
