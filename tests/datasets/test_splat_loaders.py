"""NeRF-synthetic and COLMAP loaders on tiny scenes written in the test: conventions and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genforge.core.errors import DataError
from genforge.core.geometry.rotations import matrix_to_quaternion
from genforge.core.render import look_at, opencv_w2c_to_opengl_c2w
from genforge.datasets.colmap import load_colmap, read_points
from genforge.datasets.nerf_synthetic import load_nerf_synthetic

EYES = torch.tensor([[4.0, 0.0, 1.0], [0.0, 4.0, 1.0], [-3.0, -2.0, 2.0]], dtype=torch.float64)
UP = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)


def _w2c() -> torch.Tensor:
    return look_at(EYES, torch.zeros(3, dtype=torch.float64), UP)


def _write_images(folder: Path, names: list[str], mode: str = "RGBA", size: tuple[int, int] = (6, 5)) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    channels = {"RGBA": 4, "RGB": 3, "L": 1}[mode]
    for i, name in enumerate(names):
        pixels = np.full((size[1], size[0], channels), 40 * (i + 1), dtype=np.uint8).squeeze()
        if mode == "RGBA":
            pixels[..., 3] = 255
            pixels[0, 0, 3] = 0  # one transparent pixel -> background
        Image.fromarray(pixels, mode=mode).save(folder / name)


def _nerf_scene(root: Path, mode: str = "RGBA") -> dict:
    c2w = opencv_w2c_to_opengl_c2w(_w2c())
    meta = {"camera_angle_x": 0.7,
            "frames": [{"file_path": f"./train/r_{i}", "transform_matrix": c2w[i].tolist()} for i in range(3)]}
    (root / "transforms_train.json").write_text(json.dumps(meta))
    _write_images(root / "train", [f"r_{i}.png" for i in range(3)], mode)
    return meta


def test_nerf_loader_converts_to_opencv_once(tmp_path: Path) -> None:
    _nerf_scene(tmp_path)
    views = load_nerf_synthetic(tmp_path, "train", background=(0.0, 1.0, 0.0))
    torch.testing.assert_close(views.cameras.viewmats, _w2c().float(), atol=1e-6, rtol=0)
    torch.testing.assert_close(views.cameras.centres, EYES.float(), atol=1e-5, rtol=0)
    assert views.images.shape == (3, 3, 5, 6) and views.names == ["r_0", "r_1", "r_2"]
    torch.testing.assert_close(views.images[:, :, 0, 0], torch.tensor([0.0, 1.0, 0.0]).expand(3, 3))
    assert views.alphas[:, 0, 0, 0].eq(0).all() and views.alphas[:, 0, 1, 1].eq(1).all()
    focal = float(0.5 * 6 / np.tan(0.35))
    torch.testing.assert_close(views.cameras.Ks[0], torch.tensor([[focal, 0, 3.0], [0, focal, 2.5], [0, 0, 1]]))


@pytest.mark.parametrize("damage", ["no_fov", "no_matrix", "scaled_matrix", "bad_shape", "grey_image", "no_file"])
def test_nerf_bad_input_raises_one_clear_error(tmp_path: Path, damage: str) -> None:
    meta = _nerf_scene(tmp_path, "L" if damage == "grey_image" else "RGBA")
    expected = {"no_fov": "camera_angle_x", "no_matrix": r"frames\[1\]", "scaled_matrix": "not a rotation",
                "bad_shape": "4x4", "grey_image": "RGB or RGBA", "no_file": "file not found"}[damage]
    if damage == "no_fov":
        del meta["camera_angle_x"]
    elif damage == "no_matrix":
        del meta["frames"][1]["transform_matrix"]
    elif damage == "scaled_matrix":
        matrix = np.array(meta["frames"][2]["transform_matrix"])
        matrix[:3, :3] *= 2.0
        meta["frames"][2]["transform_matrix"] = matrix.tolist()
    elif damage == "bad_shape":
        meta["frames"][0]["transform_matrix"] = meta["frames"][0]["transform_matrix"][:3]
    elif damage == "no_file":
        (tmp_path / "transforms_train.json").unlink()
    if damage != "no_file":
        (tmp_path / "transforms_train.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=expected):
        load_nerf_synthetic(tmp_path, "train")


def _colmap_scene(root: Path, model: str = "PINHOLE") -> None:
    (root / "sparse").mkdir(parents=True)
    params = "5.0 5.0 3.0 2.5" if model == "PINHOLE" else "5.0 3.0 2.5 0.01"
    (root / "sparse" / "cameras.txt").write_text(f"# Camera list\n1 {model} 6 5 {params}\n")
    w2c = _w2c()
    quats = matrix_to_quaternion(w2c[:, :3, :3])
    lines = ["# Image list"]
    for i in (2, 0, 1):
        q, t = quats[i].tolist(), w2c[i, :3, 3].tolist()
        lines += [f"{i + 1} {' '.join(map(str, q + t))} 1 img_{i}.png", "" if i == 0 else "1.0 2.0 -1"]
    (root / "sparse" / "images.txt").write_text("\n".join(lines) + "\n")
    (root / "sparse" / "points3D.txt").write_text("# points\n1 0.1 0.2 0.3 255 0 128 0.5 1 0\n")
    _write_images(root / "images", [f"img_{i}.png" for i in range(3)], "RGB")


def test_colmap_text_model(tmp_path: Path) -> None:
    _colmap_scene(tmp_path)
    views = load_colmap(tmp_path / "sparse", tmp_path / "images")
    assert views.names == ["img_0", "img_1", "img_2"]
    torch.testing.assert_close(views.cameras.viewmats, _w2c().float(), atol=1e-5, rtol=0)
    torch.testing.assert_close(views.cameras.Ks[0], torch.tensor([[5.0, 0, 3.0], [0, 5.0, 2.5], [0, 0, 1]]))
    assert views.alphas.eq(1).all()
    points, colours = read_points(tmp_path / "sparse" / "points3D.txt")
    torch.testing.assert_close(points, torch.tensor([[0.1, 0.2, 0.3]]))
    torch.testing.assert_close(colours, torch.tensor([[1.0, 0.0, 128 / 255]]))


def test_colmap_distorted_model_is_rejected(tmp_path: Path) -> None:
    _colmap_scene(tmp_path, "SIMPLE_RADIAL")
    with pytest.raises(DataError, match="SIMPLE_RADIAL.*undistort"):
        load_colmap(tmp_path / "sparse", tmp_path / "images")
