"""Tiny end to end on the smoke box: train pde.wdno_smoke -> guided control -> re-simulate with the solver, and
the `genforge pde smoke-control` command with its input errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from genforge.cli import main
from genforge.core.config import load_task_config
from genforge.domains.pde.model import load_model
from genforge.domains.pde.smoke_evaluate import held_out_initial, score_controls
from genforge.domains.pde.smoke_sampling import control_smoke
from genforge.domains.pde.smoke_tasks import run_wdno_smoke

RECIPE = Path(__file__).resolve().parents[3] / "configs" / "pde" / "tiny" / "wdno_smoke.yaml"


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, float]]]:
    """(model file, simulation metrics) of a seconds-long WDNO smoke run (16 x 16 box, 8 frames)."""
    out = tmp_path_factory.mktemp("pde_smoke_run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENFORGE_CACHE", str(out / "cache"))
        _, cfg, _ = load_task_config(RECIPE)
        cfg = replace(cfg, train=replace(cfg.train, out_dir=out / "run"))
        metrics = run_wdno_smoke(cfg)
    return out / "run" / "model.pt", metrics


def test_simulation_beats_the_trivial_baseline(trained: tuple[Path, dict[str, dict[str, float]]]) -> None:
    _, metrics = trained
    model_row, baseline = (row["density_rel_l2"] for row in metrics.values())
    assert model_row < 0.95 * baseline


def test_guided_controls_resimulated_follow_the_objective(trained: tuple[Path, dict[str, dict[str, float]]]) -> None:
    """Energy-dominated guidance must cut the re-simulated control energy; every control stays in the band."""
    model = load_model(trained[0])
    cfg = model.codec.smoke
    rho0 = held_out_initial(4, cfg)
    free, _ = control_smoke(model, rho0, scale=0.0, steps=6)
    calm, _ = control_smoke(model, rho0, scale=3e6, energy_weight=1.0, steps=6)
    energy = [float(c.square().mean()) for c in (free, calm)]
    assert energy[1] < 0.5 * energy[0]
    scored = score_controls(rho0, calm, cfg, 1e-3)
    assert torch.isfinite(scored["J"]).all() and (scored["fraction"] > 0).all()
    assert calm[..., ~model.codec.band].abs().max() == 0


def _main(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run the console entry point (user errors -> one line, exit 2); returns (exit code, output)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.argv", ["genforge", *args])
        try:
            main()
            code = 0
        except SystemExit as exit_info:
            code = int(exit_info.code or 0)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_smoke_control_command_and_bad_input(trained: tuple[Path, dict[str, dict[str, float]]],
                                             tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = trained[0]
    code, output = _main(["pde", "smoke-control", "--ckpt", str(ckpt), "--num", "2", "--steps", "4", "--out",
                          str(tmp_path / "ok"), "--no-plot"], capsys)
    assert code == 0 and "target-exit fraction" in output and (tmp_path / "ok" / "smoke_control.npz").is_file()
    for name, array in (("shape", np.zeros((2, 8, 8), np.float32)), ("nan", np.full((2, 16, 16), np.nan, np.float32))):
        bad = tmp_path / f"{name}.npz"
        np.savez(bad, rho0=array)
        code, output = _main(["pde", "smoke-control", "--ckpt", str(ckpt), "--rho0", str(bad), "--out",
                              str(tmp_path / name)], capsys)
        assert code == 2 and "rho0" in output and not (tmp_path / name).exists()


def test_shipped_smoke_checkpoint_loads_with_its_guidance() -> None:
    from genforge.domains.pde.cli import SMOKE_CHECKPOINT

    model = load_model(SMOKE_CHECKPOINT)
    assert model.codec.kind == "smoke_wavelet" and model.codec.shape == (20, 16, 16)
    assert model.codec.smoke.n == 32 and model.record["guidance"] in ("wdno", "jacobian")
