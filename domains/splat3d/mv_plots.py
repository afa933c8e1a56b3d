"""Animated turntable of a Gaussian scene (PIL GIF, written atomically)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from torch import Tensor


def save_turntable_gif(frames: Tensor, path: str | Path, *, scale: int = 4, duration_ms: int = 80) -> Path:
    """Write ``frames [F, 3, H, W]`` in [0, 1] as a looping GIF, each pixel enlarged ``scale`` times."""
    from PIL import Image

    path = Path(path)
    pixels = (frames.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    images = [Image.fromarray(frame).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
              for frame in pixels]
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".gif")
    os.close(handle)
    try:
        images[0].save(temp, save_all=True, append_images=images[1:], duration=duration_ms, loop=0)
        os.chmod(temp, 0o644)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return path
