"""`genforge sample` / `genforge export` on a toy2d checkpoint, and the inference-weights helpers."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from genforge.cli import app
from genforge.core.config import load_task_config
from genforge.core.errors import CheckpointError
from genforge.core.train.inference import export_inference, load_into, load_trained
from genforge.domains.toy2d.model import TimeMLP
from genforge.domains.toy2d.task import build_model, draw_samples, run_toy2d

RECIPE = Path(__file__).resolve().parents[3] / "configs" / "toy2d" / "tiny" / "toy2d.yaml"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy2d_run")
    _, cfg, _ = load_task_config(RECIPE)
    run_toy2d(replace(cfg, num_samples=256, train=replace(cfg.train, out_dir=out, steps=40, ema_decay=0.9)))
    return out


def test_sample_command_reproduces_the_ema_model(run_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sample", "--ckpt", str(run_dir / "last.pt"), "--num", "64",
                                      "--seed", "5", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    points = np.load(tmp_path / "s" / "samples.npy")
    trained = load_trained(run_dir / "last.pt")
    _, cfg, _ = load_task_config(RECIPE)
    model = load_into(build_model(cfg), trained).eval()
    assert np.allclose(points, draw_samples(model, cfg, 64, seed=5).numpy(), atol=1e-6)
    raw = load_trained(run_dir / "last.pt", prefer_ema=False)
    assert any(not torch.equal(raw.weights[k], trained.weights[k]) for k in raw.weights)


def test_export_is_smaller_and_samples_identically(run_dir: Path, tmp_path: Path) -> None:
    slim = export_inference(load_trained(run_dir / "last.pt"), tmp_path / "slim.pt", {"sliced_w2": 0.1})
    assert slim.stat().st_size < 0.5 * (run_dir / "last.pt").stat().st_size
    reloaded = load_trained(slim)
    assert reloaded.metrics == {"sliced_w2": 0.1} and reloaded.task == "toy2d"
    for key, value in load_trained(run_dir / "last.pt").weights.items():
        assert torch.equal(reloaded.weights[key], value)


def test_weights_of_another_model_size_are_one_clear_error(run_dir: Path) -> None:
    with pytest.raises(CheckpointError, match="another model or size"):
        load_into(TimeMLP(dim=2, hidden=7, depth=1), load_trained(run_dir / "last.pt"))


def test_sample_on_a_non_checkpoint_exits_2_without_output(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pt"
    bogus.write_text("not a checkpoint")
    import sys

    from genforge.cli import main

    argv, sys.argv = sys.argv, ["genforge", "sample", "--ckpt", str(bogus), "--out", str(tmp_path / "o")]
    try:
        with pytest.raises(SystemExit) as info:
            main()
    finally:
        sys.argv = argv
    assert info.value.code == 2 and not (tmp_path / "o").exists()
