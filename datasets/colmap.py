"""COLMAP text models (``cameras.txt``, ``images.txt``, optional ``points3D.txt``) -> :class:`PosedImages`.

COLMAP stores world-to-camera poses in OpenCV axes as a unit quaternion ``QW QX QY QZ`` and translation
``TX TY TZ`` per image, so no axis change is needed. Only undistorted pinhole models are accepted
(``PINHOLE``, ``SIMPLE_PINHOLE``; run ``colmap image_undistorter`` first), all images one size.
``points3D.txt`` gives the sparse point cloud (positions, RGB in [0, 1]) used to initialise Gaussians.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.core.geometry.rotations import quaternion_to_matrix
from genforge.core.render.cameras import Cameras
from genforge.datasets.posed_images import PosedImages, read_rgba
from genforge.datasets.storage import contained_path

PINHOLE_PARAMS = {"SIMPLE_PINHOLE": 3, "PINHOLE": 4}


def _rows(path: Path, *, keep_empty: bool = False) -> list[tuple[int, list[str]]]:
    """Non-comment lines (and non-empty unless ``keep_empty``) as ``(line number, words)``."""
    if not path.is_file():
        raise DataError("file not found; expected a COLMAP text model (cameras.txt, images.txt)", source=path)
    return [(i, line.split()) for i, line in enumerate(path.read_text().splitlines(), start=1)
            if (keep_empty or line.strip()) and not line.lstrip().startswith("#")]


def _numbers(words: list[str], path: Path, line: int) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError as error:
        raise DataError(f"expected numbers ({error})", source=path, field=f"line {line}") from error


def read_cameras(path: Path) -> dict[int, tuple[int, int, Tensor]]:
    """``camera id -> (width, height, K [3, 3])`` from ``cameras.txt``."""
    cameras = {}
    for line, words in _rows(path):
        if len(words) < 4 or words[1] not in PINHOLE_PARAMS:
            model = words[1] if len(words) > 1 else "?"
            raise DataError(f"camera model {model!r} is not supported; expected one of {sorted(PINHOLE_PARAMS)} "
                            "(undistort the images first)", source=path, field=f"line {line}")
        values = _numbers(words[2:], path, line)
        if len(values) != 2 + PINHOLE_PARAMS[words[1]]:
            raise DataError(f"{words[1]} needs WIDTH HEIGHT and {PINHOLE_PARAMS[words[1]]} parameters", source=path,
                            field=f"line {line}")
        width, height, *params = values
        fx, fy, cx, cy = (params[0], params[0], params[1], params[2]) if words[1] == "SIMPLE_PINHOLE" else params
        cameras[int(words[0])] = (int(width), int(height),
                                  torch.tensor([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]]))
    return cameras


def read_points(path: Path) -> tuple[Tensor, Tensor]:
    """Sparse points ``[P, 3]`` and colours ``[P, 3]`` in [0, 1] from ``points3D.txt``."""
    rows = [(line, _numbers(words[1:7], path, line)) for line, words in _rows(path)]
    for line, values in rows:
        if len(values) != 6:
            raise DataError("expected POINT3D_ID X Y Z R G B ERROR TRACK[]", source=path, field=f"line {line}")
    data = torch.tensor([values for _, values in rows], dtype=torch.float32).reshape(-1, 6)
    return data[:, :3], data[:, 3:] / 255.0


def load_colmap(model_dir: str | Path, image_dir: str | Path, *,
                background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> PosedImages:
    """Posed images of a COLMAP text model in ``model_dir`` with image files in ``image_dir`` (sorted by name)."""
    model_dir, image_dir = Path(model_dir), Path(image_dir)
    cameras = read_cameras(model_dir / "cameras.txt")
    path = model_dir / "images.txt"
    rows = _rows(path, keep_empty=True)[::2]  # each image: a pose line, then a (possibly empty) 2-D points line
    if not rows:
        raise DataError("no images", source=path)
    entries = []
    for line, words in rows:
        if len(words) < 10 or int(_numbers(words[8:9], path, line)[0]) not in cameras:
            raise DataError("expected IMAGE_ID QW QX QY QZ TX TY TZ CAMERA_ID NAME with a known CAMERA_ID",
                            source=path, field=f"line {line}")
        pose = torch.tensor(_numbers(words[1:8], path, line), dtype=torch.float64)
        if abs(float(pose[:4].norm()) - 1.0) > 1e-3:
            raise DataError(f"quaternion norm {float(pose[:4].norm()):.4f}; expected a unit quaternion", source=path,
                            field=f"line {line}")
        contained_path(image_dir, " ".join(words[9:]), source=path, field=f"line {line}")
        entries.append((" ".join(words[9:]), pose, int(words[8])))
    entries.sort(key=lambda entry: entry[0])
    sizes = {cameras[cam][:2] for _, _, cam in entries}
    if len(sizes) != 1:
        raise DataError(f"images use {len(sizes)} different sizes; expected one", source=model_dir / "cameras.txt")
    viewmats = torch.eye(4, dtype=torch.float64).repeat(len(entries), 1, 1)
    poses = torch.stack([pose for _, pose, _ in entries])
    viewmats[:, :3, :3] = quaternion_to_matrix(poses[:, :4])
    viewmats[:, :3, 3] = poses[:, 4:]
    rgba = torch.stack([read_rgba(image_dir / name, background) for name, _, _ in entries])
    width, height = sizes.pop()
    if rgba.shape[2:] != (height, width):
        raise DataError(f"images are {tuple(rgba.shape[2:])}, cameras.txt says {(height, width)}", source=image_dir)
    Ks = torch.stack([cameras[cam][2] for _, _, cam in entries])
    return PosedImages(rgba[:, :3].contiguous(), rgba[:, 3:].contiguous(),
                       Cameras(viewmats.float(), Ks, width, height), [Path(name).stem for name, _, _ in entries])
