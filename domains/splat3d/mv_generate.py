"""Single image -> sampled 3D Gaussian scene (.ply), novel views and a turntable (``genforge splat generate``).

The input image is the context view: the scene frame is its camera frame centred on the looked-at point
(:mod:`.rays`), the camera at the training distance and field of view. Novel views lie on the turntable
through the input camera, evenly spaced in azimuth. Everything is computed before anything is written;
the .ply and the view files are written atomically, so bad input leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from genforge.core.config import task_from_dict
from genforge.core.errors import CheckpointError, DataError
from genforge.core.render import save_ply
from genforge.core.train.inference import load_into, load_trained
from genforge.domains.splat3d.multiview import MultiviewModel, ViewCond
from genforge.domains.splat3d.mv_plots import save_turntable_gif
from genforge.domains.splat3d.mv_sample import sample_views
from genforge.domains.splat3d.rays import turntable_viewmats
from genforge.domains.splat3d.tasks import TASK, MultiviewTaskConfig, build_model, process_of

TURNTABLE_FRAMES = 24


def load_multiview(path: str | Path) -> tuple[MultiviewModel, MultiviewTaskConfig]:
    """The model (EMA weights, eval mode) and recipe of a ``splat3d.multiview`` checkpoint."""
    trained = load_trained(path)
    if trained.task != TASK:
        raise CheckpointError(f"expected a {TASK!r} checkpoint, got task {trained.task!r}", source=path)
    _, cfg, _ = task_from_dict(trained.config, str(path))
    return load_into(build_model(cfg), trained).eval(), cfg


def read_view(path: str | Path, size: int) -> Tensor:
    """A square RGB (or RGBA over white) image as ``[3, size, size]`` in [0, 1]; DataError otherwise."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    try:
        with Image.open(path) as handle:
            handle.load()
            picture = handle.copy()
    except (OSError, UnidentifiedImageError) as err:
        raise DataError(f"cannot read the image: {err}", source=path, field="--image") from err
    if picture.mode not in ("RGB", "RGBA"):
        raise DataError(f"expected an RGB or RGBA image, got mode {picture.mode!r}", source=path, field="--image")
    if picture.width != picture.height:
        raise DataError(f"expected a square image, got {picture.width}x{picture.height}", source=path,
                        field="--image")
    if picture.mode == "RGBA":
        white = Image.new("RGBA", picture.size, (255, 255, 255, 255))
        picture = Image.alpha_composite(white, picture).convert("RGB")
    picture = picture.resize((size, size), Image.BILINEAR)
    return torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8).reshape(size, size, 3).permute(
        2, 0, 1).float() / 255


def _save_png(image: Tensor, path: Path) -> None:
    from PIL import Image

    pixels = (image.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).numpy()
    Image.fromarray(pixels).save(path)


def generate_scene(ckpt: str | Path, image: str | Path, out: str | Path, views_dir: str | Path | None, *,
                   num_views: int | None = None, steps: int | None = None, guidance: float | None = None,
                   seed: int = 0) -> list[Path]:
    """Sample a scene from ``image``; write ``out`` (.ply) and, with ``views_dir``, the views; returns paths."""
    model, cfg = load_multiview(ckpt)
    if model.cfg.kind == "pixel":
        raise CheckpointError("the pixel baseline has no 3D scene; use a splat or regression checkpoint",
                              source=ckpt)
    context = read_view(image, cfg.model.size)
    count = cfg.data.targets if num_views is None else num_views
    if count < 1:
        raise DataError(f"expected at least 1 novel view, got {count}", field="--num-views")
    cfg = replace(cfg, sample_steps=steps or cfg.sample_steps, guidance=cfg.guidance if guidance is None else guidance)
    cameras = turntable_viewmats(count + 1, cfg.model.radius, 0.0)[1:][None]
    cond = ViewCond(context[None] * 2 - 1, cameras, torch.ones(1, dtype=torch.bool))
    generator = torch.Generator().manual_seed(seed)
    sample = sample_views(model, process_of(cfg), cond, steps=cfg.sample_steps, scale=cfg.guidance,
                          generator=generator)
    assert sample.splats is not None
    with torch.no_grad():
        frames = model.render(sample.splats, turntable_viewmats(TURNTABLE_FRAMES, cfg.model.radius, 0.3)[None])[0]
    out = Path(out)
    written = [out]
    staged = None
    if views_dir is not None:
        views_dir = Path(views_dir)
        views_dir.parent.mkdir(parents=True, exist_ok=True)
        staged = Path(tempfile.mkdtemp(dir=views_dir.parent, prefix=f".{views_dir.name}."))
        _save_png(context, staged / "input.png")
        for k in range(count):
            _save_png(sample.views[0, k], staged / f"view_{k + 1}.png")
        save_turntable_gif(frames, staged / "turntable.gif")
    try:
        save_ply(sample.splats.scene(0), out)
        if staged is not None:
            assert isinstance(views_dir, Path)
            views_dir.mkdir(parents=True, exist_ok=True)
            for item in sorted(staged.iterdir()):
                os.replace(item, views_dir / item.name)
                written.append(views_dir / item.name)
    finally:
        if staged is not None:
            shutil.rmtree(staged, ignore_errors=True)
    return written
