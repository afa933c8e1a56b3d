"""``genforge splat generate``: image -> .ply + views; a non-RGB image is one clear error and writes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from genforge.core.config import dump_task_config
from genforge.core.render import load_ply
from genforge.core.train.inference import TrainedWeights, export_inference
from genforge.domains.splat3d.multiview import MultiviewConfig
from genforge.domains.splat3d.mv_data import MultiviewDataConfig
from genforge.domains.splat3d.tasks import TASK, MultiviewTaskConfig, build_model

SIZE = 16


def _checkpoint(tmp_path: Path) -> Path:
    cfg = MultiviewTaskConfig(model=MultiviewConfig(size=SIZE, channels=16, depth=1, heads=2),
                              data=MultiviewDataConfig(size=SIZE, targets=2), sample_steps=3)
    model = build_model(cfg)
    trained = TrainedWeights(tmp_path / "src.pt", TASK, dump_task_config(TASK, cfg), 0, model.state_dict())
    return export_inference(trained, tmp_path / "tiny.pt")


def _image(path: Path, mode: str) -> Path:
    rng = np.random.default_rng(0)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = rng.integers(0, 255, (24, 24, channels), dtype=np.uint8)
    Image.fromarray(pixels[..., 0] if channels == 1 else pixels, mode).save(path)
    return path


@pytest.mark.parametrize("mode", ["RGB", "RGBA"])
def test_generate_writes_ply_views_and_gif(tmp_path: Path, mode: str) -> None:
    from genforge.cli import app

    ckpt = _checkpoint(tmp_path)
    out, views = tmp_path / "o" / "scene.ply", tmp_path / "views"
    result = CliRunner().invoke(app, ["splat", "generate", "--ckpt", str(ckpt), "--image",
                                      str(_image(tmp_path / "in.png", mode)), "--out", str(out), "--views",
                                      str(views), "--num-views", "3", "--steps", "2"])
    assert result.exit_code == 0, result.output
    scene = load_ply(out)
    assert scene.num == (1 + 3) * SIZE * SIZE and torch.isfinite(scene.means).all()
    assert sorted(p.name for p in views.iterdir()) == ["input.png", "turntable.gif", "view_1.png", "view_2.png",
                                                       "view_3.png"]
    assert Image.open(views / "view_2.png").size == (SIZE, SIZE)
    assert not [p for p in tmp_path.rglob(".*") if p.is_file() or p.is_dir()]


def test_generate_rejects_non_rgb_image(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    from genforge.cli import main

    ckpt = _checkpoint(tmp_path)
    out, views = tmp_path / "o" / "scene.ply", tmp_path / "views"
    monkeypatch.setattr(sys, "argv", ["genforge", "splat", "generate", "--ckpt", str(ckpt), "--image",
                                      str(_image(tmp_path / "grey.png", "L")), "--out", str(out), "--views",
                                      str(views)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "mode 'L'" in stderr and "grey.png" in stderr
    assert not out.exists() and not views.exists() and not (tmp_path / "o").exists()
