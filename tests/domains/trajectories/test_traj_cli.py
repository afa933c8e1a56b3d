"""CLI end to end on the tiny recipe (simulate -> train -> sample extxyz), extxyz round trip, and one clear
error for each kind of bad input (ragged frames, NaN, wrong particle count, too few frames, bad checkpoint)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from genforge.cli import app
from genforge.core.errors import CheckpointError, DataError
from genforge.domains.trajectories.inference import forecast_file
from genforge.domains.trajectories.io import read_extxyz, write_extxyz
from genforge.domains.trajectories.tasks import load_model

RECIPE = Path(__file__).resolve().parents[3] / "configs" / "trajectories" / "tiny" / "geotdm_nbody.yaml"


def test_extxyz_round_trip(tmp_path: Path) -> None:
    pos = torch.randn(4, 5, 3)
    charges = torch.tensor([1.0, -1.0, 1.0, 1.0, -1.0])
    write_extxyz(tmp_path / "t.extxyz", pos, torch.zeros(5, dtype=torch.long), charges)
    back = read_extxyz(tmp_path / "t.extxyz")
    assert torch.allclose(back.pos, pos, atol=1e-6) and torch.equal(back.charges, charges)
    assert not list(tmp_path.glob(".*tmp"))


def test_bad_trajectory_files_raise_data_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.extxyz"
    write_extxyz(good, torch.randn(3, 5, 3), torch.zeros(5, dtype=torch.long))
    lines = good.read_text().splitlines()
    fewer = tmp_path / "fewer.extxyz"
    write_extxyz(fewer, torch.randn(1, 4, 3), torch.zeros(4, dtype=torch.long))
    ragged = tmp_path / "ragged.extxyz"
    ragged.write_text(good.read_text() + fewer.read_text())
    with pytest.raises(DataError, match="ragged") as info:
        read_extxyz(ragged)
    assert "frame 3" in str(info.value)
    nan = tmp_path / "nan.extxyz"
    nan.write_text(good.read_text().replace(lines[2].split()[1], "nan", 1))
    with pytest.raises(DataError, match="NaN"):
        read_extxyz(nan)
    with pytest.raises(DataError, match="not found"):
        read_extxyz(tmp_path / "absent.extxyz")


def test_cli_simulate_train_sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    result = runner.invoke(app, ["traj", "simulate", "nbody", "--num", "2", "--out", str(tmp_path / "sim")])
    assert result.exit_code == 0, result.output
    first = read_extxyz(tmp_path / "sim" / "traj_00000.extxyz")
    assert first.pos.shape == (49, 5, 3) and first.charges.abs().eq(1).all()

    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["traj", "train", "--config", str(RECIPE), "--set", f"train.out_dir={run_dir}"])
    assert result.exit_code == 0, result.output
    assert (run_dir / "metrics.json").is_file()
    ckpt = run_dir / "model.pt"

    out = tmp_path / "forecast.extxyz"
    result = runner.invoke(app, ["traj", "sample", "--ckpt", str(ckpt), "--condition",
                                 str(tmp_path / "sim" / "traj_00000.extxyz"), "--horizon", "5", "-k", "3",
                                 "--out", str(out), "--plot", str(tmp_path / "strip.png")])
    assert result.exit_code == 0, result.output
    forecasts = read_extxyz(out)  # the 3 samples' frames, 5 each
    assert forecasts.pos.shape == (15, 5, 3) and (tmp_path / "strip.png").is_file()

    loaded = load_model(ckpt)
    four = tmp_path / "four.extxyz"
    write_extxyz(four, first.pos[:, :4], torch.zeros(4, dtype=torch.long), first.charges[:4])
    with pytest.raises(DataError, match="4 particles"):
        forecast_file(loaded, four, 5, 1, 0, tmp_path / "x.extxyz")
    short = tmp_path / "short.extxyz"
    write_extxyz(short, first.pos[:2], first.charges.new_zeros(5).long(), first.charges)
    with pytest.raises(DataError, match="frames"):
        forecast_file(loaded, short, 5, 1, 0, tmp_path / "x.extxyz")
    with pytest.raises(DataError, match="horizon"):
        forecast_file(loaded, tmp_path / "sim" / "traj_00000.extxyz", 99, 1, 0, tmp_path / "x.extxyz")
    with pytest.raises(CheckpointError):
        load_model(run_dir / "metrics.json")


def test_cli_generate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    runner = CliRunner()
    recipe = RECIPE.with_name("geotdm_nbody_generate.yaml")
    result = runner.invoke(app, ["traj", "train", "--config", str(recipe), "--set", f"train.out_dir={tmp_path}"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "gen.extxyz"
    result = runner.invoke(app, ["traj", "generate", "--ckpt", str(tmp_path / "model.pt"), "--num", "2",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    generated = read_extxyz(out)
    assert generated.pos.shape == (16, 5, 3) and torch.isfinite(generated.pos).all()
    result = runner.invoke(app, ["traj", "generate", "--ckpt", str(tmp_path / "model.pt"), "--charges", "1,1"])
    assert result.exit_code != 0 and "2 charges" in str(result.exception)
