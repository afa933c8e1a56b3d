"""Animated turntable of a Gaussian scene (PIL GIF, written atomically)."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from genforge.core.atomic import atomic_write


def save_turntable_gif(frames: Tensor, path: str | Path, *, scale: int = 4, duration_ms: int = 80) -> Path:
    """Write ``frames [F, 3, H, W]`` in [0, 1] as a looping GIF, each pixel enlarged ``scale`` times."""
    from PIL import Image

    path = Path(path)
    pixels = (frames.detach().clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    images = [Image.fromarray(frame).resize((frame.shape[1] * scale, frame.shape[0] * scale), Image.NEAREST)
              for frame in pixels]
    return atomic_write(path, lambda temp: images[0].save(temp, format="GIF", save_all=True, append_images=images[1:],
                                                          duration=duration_ms, loop=0))
