"""Two-dimensional toy distributions with known structure, for the engine's demo and tests.

All samplers take a ``torch.Generator`` and return ``[n, 2]`` float32 points of roughly unit scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genforge.core.errors import DataError


def checkerboard(n: int, generator: torch.Generator) -> Tensor:
    """Uniform on the 8 dark squares of a 4x4 checkerboard over [-2, 2]^2."""
    cell = torch.randint(0, 8, (n,), generator=generator)
    row = cell // 2
    col = 2 * (cell % 2) + (row % 2)
    offset = torch.rand(n, 2, generator=generator)
    return torch.stack([col + offset[:, 0], row + offset[:, 1]], dim=1) - 2.0


def eight_gaussians(n: int, generator: torch.Generator, radius: float = 2.0, std: float = 0.15) -> Tensor:
    """Mixture of 8 isotropic Gaussians (std ``std``) equally spaced on a circle of ``radius``."""
    k = torch.randint(0, 8, (n,), generator=generator).to(torch.float32)
    centres = radius * torch.stack([torch.cos(k * math.pi / 4), torch.sin(k * math.pi / 4)], dim=1)
    return centres + std * torch.randn(n, 2, generator=generator)


def two_moons(n: int, generator: torch.Generator, noise: float = 0.08) -> Tensor:
    """The classic two interleaved half circles, centred and scaled to unit-ish spread."""
    upper = torch.rand(n, generator=generator) < 0.5
    angle = math.pi * torch.rand(n, generator=generator)
    x = torch.where(upper, torch.cos(angle), 1.0 - torch.cos(angle))
    y = torch.where(upper, torch.sin(angle), 0.5 - torch.sin(angle))
    points = torch.stack([x - 0.5, y - 0.25], dim=1) * 1.5
    return points + noise * torch.randn(n, 2, generator=generator)


TOY2D: dict[str, Callable[..., Tensor]] = {
    "checkerboard": checkerboard,
    "eight_gaussians": eight_gaussians,
    "two_moons": two_moons,
}


def sample_toy2d(name: str, n: int, seed: int) -> Tensor:
    """``n`` points of the named toy distribution, deterministic in ``seed``."""
    if name not in TOY2D:
        raise DataError(f"unknown toy dataset {name!r}; expected one of {sorted(TOY2D)}", field="dataset")
    return TOY2D[name](n, torch.Generator().manual_seed(seed))
