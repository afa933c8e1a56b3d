"""Tiny end-to-end per-scene fits on a synthetic Gaussian scene: the fit beats its init and the baselines;
the CLI writes .ply + metrics + gallery atomically and reports bad input in one line."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from genforge.core.config import load_config
from genforge.core.render import (
    Cameras,
    Gaussians,
    intrinsics_from_fov,
    load_ply,
    opencv_w2c_to_opengl_c2w,
    orbit_viewmats,
    render_gaussians,
)
from genforge.datasets.posed_images import PosedImages
from genforge.domains.splat3d.fit import FitConfig, evaluate, fit_scene, split_views

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "configs" / "splat3d" / "tiny" / "fit.yaml"
SIZE, FOV = 24, 0.8


def _truth() -> Gaussians:
    g = torch.Generator().manual_seed(0)
    n = 40
    means = torch.randn(n, 3, generator=g) * 0.35
    quats = torch.randn(n, 4, generator=g)
    log_scales = torch.randn(n, 3, generator=g) * 0.2 - 2.2
    sh = torch.zeros(n, 1, 3)
    sh[:, 0] = (torch.rand(n, 3, generator=g) - 0.5) / 0.2820948
    return Gaussians(means, quats, log_scales, torch.full((n,), 2.0), sh)


def _views(num: int = 12) -> PosedImages:
    viewmats = torch.cat([orbit_viewmats(num // 2, 3.0, 0.3), orbit_viewmats(num // 2, 3.0, -0.5)])
    Ks = intrinsics_from_fov(FOV, SIZE, SIZE)[None].repeat(num, 1, 1)
    cameras = Cameras(viewmats, Ks, SIZE, SIZE)
    with torch.no_grad():
        out = render_gaussians(_truth(), cameras, background=torch.ones(3), backend="torch")
    return PosedImages(out.image.clamp(0, 1), out.alpha, cameras, [f"r_{i}" for i in range(num)])


def test_fit_raises_held_out_psnr_above_init_and_baselines() -> None:
    cfg = load_config(TINY, FitConfig)
    train, held = split_views(_views(), cfg.holdout_every)
    untrained = evaluate(fit_scene(train, replace(cfg, steps=0), progress=False).gaussians, train, held, cfg)
    result = fit_scene(train, cfg, progress=False)
    scores = evaluate(result.gaussians, train, held, cfg)
    assert result.gaussians.num > 0 and result.history, "densification ran"
    assert scores["3dgs_fit"]["psnr"] > untrained["3dgs_fit"]["psnr"] + 3.0
    assert scores["3dgs_fit"]["psnr"] > max(scores["mean_colour"]["psnr"], scores["nearest_train_view"]["psnr"])
    assert scores["3dgs_fit"]["ssim"] > scores["mean_colour"]["ssim"]


def _write_nerf_scene(folder: Path) -> None:
    views = _views(8)
    c2w = opencv_w2c_to_opengl_c2w(views.cameras.viewmats.double())
    (folder / "train").mkdir(parents=True)
    frames = []
    for i in range(len(views)):
        rgba = torch.cat([views.images[i], views.alphas[i]]).permute(1, 2, 0).numpy()
        Image.fromarray((rgba * 255).round().astype(np.uint8), mode="RGBA").save(folder / "train" / f"r_{i}.png")
        frames.append({"file_path": f"./train/r_{i}", "transform_matrix": c2w[i].tolist()})
    (folder / "transforms_train.json").write_text(json.dumps({"camera_angle_x": FOV, "frames": frames}))


def test_cli_fit_and_render(tmp_path: Path) -> None:
    from genforge.cli import app

    _write_nerf_scene(tmp_path / "scene")
    out = tmp_path / "out" / "scene.ply"
    runner = CliRunner()
    result = runner.invoke(app, ["splat", "fit", "--data", str(tmp_path / "scene"), "--out", str(out), "--config",
                                 str(TINY), "--steps", "30", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "3dgs_fit" in result.output
    report = json.loads(out.with_suffix(".json").read_text())
    assert report["num_held_out_views"] == 2 and math.isfinite(report["held_out"]["3dgs_fit"]["psnr"])
    assert sorted(p.name for p in out.parent.iterdir()) == ["scene.json", "scene.ply", "scene_gallery.png"]
    assert load_ply(out).num == report["num_gaussians"]
    png = tmp_path / "render.png"
    result = runner.invoke(app, ["splat", "render", "--ply", str(out), "--views", "3", "--size", "16",
                                 "--radius", "3", "--out", str(png)])
    assert result.exit_code == 0, result.output
    assert Image.open(png).size[0] > 100


@pytest.mark.parametrize("bad", ["missing_field", "malformed_ply"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path: Path, bad: str, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from genforge.cli import main

    if bad == "missing_field":
        _write_nerf_scene(tmp_path / "scene")
        meta = json.loads((tmp_path / "scene" / "transforms_train.json").read_text())
        del meta["frames"][3]["transform_matrix"]
        (tmp_path / "scene" / "transforms_train.json").write_text(json.dumps(meta))
        args = ["splat", "fit", "--data", str(tmp_path / "scene"), "--out", str(tmp_path / "o" / "s.ply")]
    else:
        (tmp_path / "s.ply").write_bytes(b"ply\nformat ascii 1.0\nelement vertex 1\nend_header\n")
        args = ["splat", "render", "--ply", str(tmp_path / "s.ply"), "--out", str(tmp_path / "r.png")]
    monkeypatch.setattr(sys, "argv", ["genforge", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    stderr = capsys.readouterr().err
    assert exit_info.value.code == 2, stderr
    assert len(stderr.strip().splitlines()) == 1 and "error:" in stderr
    assert ("frames[3]" in stderr) if bad == "missing_field" else ("binary_little_endian" in stderr)
    assert not (tmp_path / "o").exists() and not (tmp_path / "r.png").exists()
