"""`genforge <domain> train` runs the shared recipe path and refuses a recipe of another domain (exit 2,
one line naming the file and the task field, nothing trained)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from genforge.cli import main

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "toy2d" / "tiny" / "toy2d.yaml"


@pytest.mark.parametrize(("group", "domain"), [("ts", "transition_states"), ("pde", "pde"), ("splat", "splat3d")])
def test_domain_train_refuses_a_recipe_of_another_domain(tmp_path: Path, capfd: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch, group: str,
                                                         domain: str) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["genforge", group, "train", "--config", str(RECIPE)])
    with pytest.raises(SystemExit) as info:
        main()
    err = capfd.readouterr().err.strip()
    assert info.value.code == 2
    assert len(err.splitlines()) == 1 and "toy2d.yaml" in err and f"not a {domain}.* task" in err, err
    assert list(tmp_path.iterdir()) == []
