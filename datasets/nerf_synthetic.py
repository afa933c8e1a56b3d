"""NeRF-synthetic (Blender) scenes: ``transforms_<split>.json`` + RGBA PNGs -> :class:`PosedImages`.

The file gives ``camera_angle_x`` (horizontal field of view, radians) and per frame ``file_path`` (relative,
without ``.png``) and ``transform_matrix``: an OpenGL camera-to-world 4x4 (x right, y up, z backward). It is
converted here, once, to the OpenCV world-to-camera convention used everywhere else. Images are RGBA and
composited over ``background`` (white by default, as in the NeRF / 3DGS evaluation protocol).
Default scene: ``<data root>/nerf_lego_small`` (see its README: 100x100 views, CC-BY-NC, never copied).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from genforge.core.errors import DataError
from genforge.core.render.cameras import Cameras, check_rotations, intrinsics_from_fov, opengl_c2w_to_opencv_w2c
from genforge.datasets.posed_images import PosedImages, read_rgba
from genforge.datasets.storage import contained_path, data_root, read_text

DEFAULT_SCENE = "nerf_lego_small"


def default_scene_dir(root: str | Path | None = None) -> Path:
    """``<data root>/nerf_lego_small``."""
    return data_root(root) / DEFAULT_SCENE


def _frame_matrix(frame: object, index: int, path: Path) -> torch.Tensor:
    field = f"frames[{index}]"
    if not isinstance(frame, dict) or "transform_matrix" not in frame or "file_path" not in frame:
        raise DataError("each frame needs 'file_path' and 'transform_matrix'", source=path, field=field)
    try:
        c2w = torch.tensor(frame["transform_matrix"], dtype=torch.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"transform_matrix is not a numeric 4x4 matrix ({error})", source=path,
                        field=f"{field}.transform_matrix") from error
    if c2w.shape != (4, 4) or not torch.allclose(c2w[3], torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64)):
        raise DataError(f"transform_matrix must be 4x4 with last row [0, 0, 0, 1], got shape {tuple(c2w.shape)}",
                        source=path, field=f"{field}.transform_matrix")
    check_rotations(c2w[:3, :3], source=path, field=f"{field}.transform_matrix")
    return c2w


def read_transforms(path: str | Path) -> tuple[float, torch.Tensor, list[Path]]:
    """Parse and check one ``transforms_<split>.json``: (horizontal field of view in radians, OpenGL
    camera-to-world matrices ``[V, 4, 4]`` float64, the image files, which must lie inside its folder)."""
    path = Path(path)
    if not path.is_file():
        raise DataError("file not found; expected a NeRF-synthetic transforms_<split>.json", source=path)
    try:
        meta = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON ({error})", source=path) from error
    if not isinstance(meta, dict):
        raise DataError("expected a JSON object", source=path)
    for key in ("camera_angle_x", "frames"):
        if key not in meta:
            raise DataError("missing required field", source=path, field=key)
    if not isinstance(meta["frames"], list) or not meta["frames"]:
        raise DataError("expected a non-empty list of frames", source=path, field="frames")
    fov = meta["camera_angle_x"]
    if not isinstance(fov, (int, float)) or not 0 < fov < torch.pi:
        raise DataError(f"expected a field of view in (0, pi) radians, got {fov!r}", source=path,
                        field="camera_angle_x")
    c2ws = torch.stack([_frame_matrix(frame, i, path) for i, frame in enumerate(meta["frames"])])
    files = [contained_path(path.parent, f"{frame['file_path']}.png", source=path, field=f"frames[{i}].file_path")
             for i, frame in enumerate(meta["frames"])]
    return float(fov), c2ws, files


def load_nerf_synthetic(scene_dir: str | Path, split: str = "train", *,
                        background: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> PosedImages:
    """Load ``scene_dir/transforms_<split>.json`` and its images (all views must share one size)."""
    fov, c2ws, files = read_transforms(Path(scene_dir) / f"transforms_{split}.json")
    images = [read_rgba(file, background) for file in files]
    height, width = images[0].shape[1:]
    for file, image in zip(files, images, strict=True):
        if image.shape[1:] != (height, width):
            raise DataError(f"image is {tuple(image.shape[1:])}, the first view is {(height, width)}", source=file)
    viewmats = opengl_c2w_to_opencv_w2c(c2ws).float()
    Ks = intrinsics_from_fov(fov, width, height)[None].expand(len(files), 3, 3).clone()
    rgba = torch.stack(images)
    return PosedImages(rgba[:, :3].contiguous(), rgba[:, 3:].contiguous(), Cameras(viewmats, Ks, width, height),
                       [f.stem for f in files])
