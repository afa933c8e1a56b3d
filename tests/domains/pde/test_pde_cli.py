"""Tiny end to end: train (pde.wdno) -> control -> evaluate through the CLI; bad inputs fail cleanly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genforge.cli import app, main
from genforge.core.config import load_task_config
from genforge.core.errors import CheckpointError
from genforge.datasets.burgers import cached_generate
from genforge.domains.pde.control import ControlObjective
from genforge.domains.pde.io import save_npz
from genforge.domains.pde.model import load_model
from genforge.domains.pde.sampling import control
from genforge.domains.pde.tasks import run_wdno

RECIPE = Path(__file__).resolve().parents[3] / "configs" / "pde" / "tiny" / "wdno.yaml"
runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(model file, held-out trajectory file) of a seconds-long WDNO run."""
    out = tmp_path_factory.mktemp("pde_run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENFORGE_CACHE", str(out / "cache"))
        _, cfg, _ = load_task_config(RECIPE)
        cfg = replace(cfg, num_train=8, num_test=2, num_eval=2, sample_steps=3,
                      train=replace(cfg.train, steps=20, batch_size=4, out_dir=out / "run"))
        metrics = run_wdno(cfg)
        held_out = cached_generate(2, cfg.data_seed + 1, cfg.refine)
    assert set(next(iter(metrics.values()))) == {"rel_l2", "mse"}
    data = save_npz(out / "held_out.npz", held_out)
    return out / "run" / "model.pt", data


def test_evaluate_and_control_commands(trained: tuple[Path, Path], tmp_path: Path) -> None:
    ckpt, data = trained
    result = runner.invoke(app, ["pde", "evaluate", "--ckpt", str(ckpt), "--data", str(data), "--out",
                                 str(tmp_path / "eval"), "--num", "2", "--steps", "3", "--refine", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "metrics.json").is_file() and (tmp_path / "eval" / "heatmaps.png").is_file()
    result = runner.invoke(app, ["pde", "control", "--ckpt", str(ckpt), "--u0", str(data), "--target", str(data),
                                 "--out", str(tmp_path / "ctrl"), "--steps", "3", "--refine", "1"])
    assert result.exit_code == 0, result.output
    with np.load(tmp_path / "ctrl" / "control.npz") as saved:
        assert saved["f"].shape == (2, 80, 120) and np.isfinite(saved["J"]).all()


@pytest.mark.parametrize(("guidance", "strength"), [("wdno", 1e4), ("jacobian", 30.0)])
def test_guidance_lowers_the_cost_of_the_model_trajectory(trained: tuple[Path, Path], guidance: str,
                                                           strength: float) -> None:
    """J of the model's own (u_T, f) drops when the objective gradient steers sampling."""
    ckpt, data = trained
    model = load_model(ckpt)
    with np.load(data) as saved:
        u = torch.from_numpy(saved["u"]).double()
    objective = ControlObjective(u[:, -1], 2e-5)
    costs = []
    for scale in (0.0, strength):
        f, u_model = control(model, u[:, 0], u[:, -1], objective, scale=scale, steps=5, seed=0, guidance=guidance)
        costs.append(objective(u_model[:, -1].double(), f.double()).mean())
    assert costs[1] < 0.7 * costs[0], costs


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the console entry point (user errors -> one line, exit 2); returns (exit code, output)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["genforge", *args])
        with pytest.raises(SystemExit) as exit_info:
            main()
    captured = capsys.readouterr()
    return int(exit_info.value.code), captured.out + captured.err


def _bad(tmp_path: Path, name: str, **arrays: np.ndarray) -> Path:
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x0": np.zeros((1, 120))}, "missing key 'u0'"),
    ({"u0": np.zeros((1, 64))}, "expected shape [N x 120]"),
    ({"u0": np.full((1, 120), np.nan)}, "NaN"),
])
def test_bad_control_inputs_fail_in_one_line_and_write_nothing(trained: tuple[Path, Path], tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str],
                                                               arrays: dict[str, np.ndarray], message: str) -> None:
    ckpt, data = trained
    bad = _bad(tmp_path, "bad.npz", **arrays)
    out = tmp_path / "out"
    code, output = _main(["pde", "control", "--ckpt", str(ckpt), "--u0", str(bad), "--target", str(data),
                          "--out", str(out)], capsys)
    assert code == 2
    assert message in " ".join(output.split()) and output.startswith("error:")
    assert not out.exists()


def test_bad_trajectory_file_and_checkpoint(trained: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    ckpt, _ = trained
    bad = _bad(tmp_path, "traj.npz", u=np.zeros((1, 81, 120)))
    code, output = _main(["pde", "evaluate", "--ckpt", str(ckpt), "--data", str(bad), "--out",
                          str(tmp_path / "out")], capsys)
    assert code == 2 and "missing key 'f'" in output and not (tmp_path / "out").exists()
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable torch file"):
        load_model(garbage)
    torch.save({"format": 1}, tmp_path / "partial.pt")
    with pytest.raises(CheckpointError, match="missing"):
        load_model(tmp_path / "partial.pt")


RECIPES = sorted(RECIPE.parents[1].glob("*/*.yaml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipes_load(recipe: Path) -> None:
    name, cfg, _ = load_task_config(recipe)
    assert name in ("pde.wdno", "pde.physical_diffusion", "pde.superres", "pde.wdno_smoke", "pde.physical_smoke")
    assert cfg.net.channel_mult[0] == 1


def test_shipped_checkpoint_loads_with_its_record() -> None:
    from genforge.domains.pde.cli import CHECKPOINT

    model = load_model(CHECKPOINT)
    assert model.codec.channels == 12 and model.codec.shape == (44, 60)
    assert model.record["guidance_scale"] > 0 and model.record["task"] == "pde.wdno"
    assert model.clean_conditioning and model.record["guidance"] == "wdno"
    assert CHECKPOINT.stat().st_size <= 5 * 2 ** 20 and CHECKPOINT.with_suffix(".json").is_file()
