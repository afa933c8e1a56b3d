"""Posed images: RGB views with their pinhole cameras (the input of per-scene Gaussian fitting)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.core.render.cameras import Cameras


@dataclass
class PosedImages:
    """``V`` views of one scene.

    Shapes: ``images [V, 3, H, W]`` RGB in [0, 1] (composited over the background when the files have alpha),
    ``alphas [V, 1, H, W]`` foreground masks (ones for RGB files), ``cameras`` with ``V`` OpenCV world-to-camera
    matrices, ``names`` the files' stems.
    """

    images: Tensor
    alphas: Tensor
    cameras: Cameras
    names: list[str]

    def __len__(self) -> int:
        return self.images.shape[0]

    def subset(self, index: Tensor | list[int]) -> PosedImages:
        """The views at ``index`` (ints)."""
        index = torch.as_tensor(index, dtype=torch.long)
        return PosedImages(self.images[index], self.alphas[index], self.cameras[index],
                           [self.names[i] for i in index.tolist()])


def read_rgba(path: Path, background: tuple[float, float, float]) -> Tensor:
    """``[4, H, W]`` in [0, 1] from an RGB or RGBA file: RGB composited over ``background``, then alpha."""
    from PIL import Image

    if not path.is_file():
        raise DataError("image file not found", source=path)
    try:
        with Image.open(path) as image:
            mode = image.mode
            array = np.asarray(image.convert("RGBA") if mode in ("RGB", "RGBA") else image, dtype=np.float32)
    except OSError as error:
        raise DataError(f"cannot read image ({error})", source=path) from error
    if mode not in ("RGB", "RGBA"):
        raise DataError(f"image mode {mode!r}; expected an RGB or RGBA image", source=path)
    pixels = torch.from_numpy(array / 255.0).permute(2, 0, 1)
    rgb, alpha = pixels[:3], pixels[3:]
    rgb = rgb * alpha + torch.tensor(background, dtype=torch.float32)[:, None, None] * (1.0 - alpha)
    return torch.cat([rgb, alpha])
