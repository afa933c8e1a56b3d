"""3DGS .ply round trip and malformed files; camera conventions (NeRF OpenGL <-> OpenCV) and kornia parity."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from genforge.core.errors import DataError
from genforge.core.render import (
    Cameras,
    Gaussians,
    check_rotations,
    intrinsics_from_fov,
    load_ply,
    look_at,
    opencv_w2c_to_opengl_c2w,
    opengl_c2w_to_opencv_w2c,
    orbit_viewmats,
    save_ply,
)
from genforge.core.render.ply import _property_names


def _gaussians(n: int, degree: int) -> Gaussians:
    g = torch.Generator().manual_seed(degree)
    return Gaussians(torch.randn(n, 3, generator=g), torch.randn(n, 4, generator=g), torch.randn(n, 3, generator=g),
                     torch.randn(n, generator=g), torch.randn(n, (degree + 1) ** 2, 3, generator=g))


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_ply_round_trip_standard_layout(tmp_path: Path, degree: int) -> None:
    scene = _gaussians(37, degree)
    path = save_ply(scene, tmp_path / "scene.ply")
    header = path.read_bytes().split(b"end_header\n")[0].decode()
    names = [line.split()[-1] for line in header.splitlines() if line.startswith("property float")]
    assert names == _property_names(3 * ((degree + 1) ** 2 - 1))
    assert names[:9] == ["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"] and names[-1] == "rot_3"
    loaded = load_ply(path)
    for key, value in scene.tensors().items():
        torch.testing.assert_close(getattr(loaded, key), value, rtol=0, atol=0)
    assert [p.name for p in tmp_path.iterdir()] == ["scene.ply"]  # no temp file left behind


def test_ply_f_rest_is_channel_major(tmp_path: Path) -> None:
    scene = _gaussians(2, 1)
    path = save_ply(scene, tmp_path / "s.ply")
    raw = path.read_bytes()
    data = torch.frombuffer(bytearray(raw[raw.index(b"end_header\n") + 11:]), dtype=torch.float32).reshape(2, -1)
    # f_rest_0..2 are the three degree-1 coefficients of the red channel (Inria layout)
    torch.testing.assert_close(data[:, 9:12], scene.sh[:, 1:, 0])


@pytest.mark.parametrize("damage", ["not_ply", "ascii", "truncated", "missing_property", "bad_rest", "nan"])
def test_malformed_ply_raises_one_clear_error(tmp_path: Path, damage: str) -> None:
    path = save_ply(_gaussians(5, 1), tmp_path / "s.ply")
    raw = path.read_bytes()
    if damage == "not_ply":
        raw = b"PK\x03\x04" + raw
    elif damage == "ascii":
        raw = raw.replace(b"binary_little_endian", b"ascii")
    elif damage == "truncated":
        raw = raw[:-7]
    elif damage == "missing_property":
        raw = raw.replace(b"property float opacity\n", b"")
    elif damage == "bad_rest":
        raw = raw.replace(b"property float f_rest_8\n", b"")
    elif damage == "nan":
        raw = raw[:-4] + torch.tensor([math.nan], dtype=torch.float32).numpy().tobytes()
    path.write_bytes(raw)
    with pytest.raises(DataError, match=r"s\.ply"):
        load_ply(path)


def test_nerf_opengl_to_opencv_round_trip_and_axes() -> None:
    g = torch.Generator().manual_seed(0)
    eyes = torch.randn(6, 3, generator=g, dtype=torch.float64) * 3
    w2c = look_at(eyes, torch.zeros(3, dtype=torch.float64), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    c2w_gl = opencv_w2c_to_opengl_c2w(w2c)
    torch.testing.assert_close(opengl_c2w_to_opencv_w2c(c2w_gl), w2c)
    # OpenGL cameras look down their -z axis with +y up; OpenCV ones look down +z with +y down
    torch.testing.assert_close(-c2w_gl[:, :3, 2], -eyes / eyes.norm(dim=-1, keepdim=True))
    cams = Cameras(w2c, intrinsics_from_fov(1.0, 32, 32, dtype=torch.float64)[None].repeat(6, 1, 1), 32, 32)
    pixels, depth = cams.project(torch.zeros(1, 3, dtype=torch.float64))
    torch.testing.assert_close(pixels, torch.full_like(pixels, 16.0))
    torch.testing.assert_close(depth[:, 0], eyes.norm(dim=-1))
    above, _ = cams.project(torch.tensor([[0.0, 0.0, 0.1]], dtype=torch.float64))  # world up is image up
    assert (above[:, 0, 1] < 16.0).all()
    torch.testing.assert_close(cams.centres, eyes)


def test_cameras_agree_with_kornia_pinhole() -> None:
    w2c = orbit_viewmats(4, 3.0, 0.3, dtype=torch.float64)
    cams = Cameras(w2c, intrinsics_from_fov(0.7, 40, 30, dtype=torch.float64)[None].repeat(4, 1, 1), 40, 30)
    points = torch.randn(10, 3, dtype=torch.float64) * 0.5
    pixels, _ = cams.project(points)
    pin = cams.to_kornia()
    expected = pin.project(points[None].expand(4, -1, -1).reshape(4, 10, 3))
    torch.testing.assert_close(pixels, expected)


def test_non_rotation_camera_matrix_is_rejected() -> None:
    check_rotations(orbit_viewmats(3, 2.0, 0.2)[:, :3, :3])
    scaled = torch.eye(3) * 1.5
    with pytest.raises(DataError, match=r"cams\.json: frames\[2\].*not a rotation"):
        check_rotations(scaled, source="cams.json", field="frames[2]")
    with pytest.raises(DataError, match="not a rotation"):
        check_rotations(torch.diag(torch.tensor([1.0, 1.0, -1.0])))  # reflection, det -1
