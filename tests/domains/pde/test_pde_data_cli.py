"""`genforge pde simulate smoke` / `burgers-grid`: files with the documented shapes; bad grids fail cleanly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genforge.cli import app, main

runner = CliRunner()


def test_simulate_smoke_writes_a_consistent_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["pde", "simulate", "smoke", "--num", "2", "--n", "16", "--frames", "4",
                                 "--out", str(tmp_path / "smoke")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "smoke" / "smoke.npz") as saved:
        assert saved["density"].shape == (2, 5, 16, 16) and saved["velocity"].shape == (2, 5, 2, 16, 16)
        assert saved["control"].shape == (2, 4, 2, 16, 16) and saved["outflow"].shape == (2, 4, 3)
        balance = saved["mass"][:, -1] + saved["outflow"].sum((1, 2))
        np.testing.assert_allclose(balance, saved["injected"], rtol=1e-5)


def test_simulate_burgers_grid_and_its_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["pde", "simulate", "burgers-grid", "--num", "1", "--frames", "40", "--points", "16",
                                 "--solver-points", "63", "--out", str(tmp_path / "grid")])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "grid" / "burgers_grid.npz") as saved:
        assert saved["u"].shape == (1, 40, 16) and saved["coarse"].shape == (1, 20, 8)
        np.testing.assert_allclose(saved["coarse"], saved["u"].reshape(1, 20, 2, 8, 2).mean((2, 4)), rtol=1e-6)
    for extra, message in ((["--points", "16", "--solver-points", "60"], "multiple of 2 x points"),
                           (["--points", "16", "--solver-points", "63", "--coarsen", "3"], "power of 2")):
        monkeypatch.setattr("sys.argv", ["genforge", "pde", "simulate", "burgers-grid", "--num", "1", "--out",
                                         str(tmp_path / "bad"), *extra])
        with pytest.raises(SystemExit) as exit_info:
            main()
        output = capsys.readouterr()
        assert exit_info.value.code == 2 and message in output.out + output.err
        assert not (tmp_path / "bad").exists()
