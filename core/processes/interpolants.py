r"""Deterministic interpolants between data (t = 0) and Gaussian noise (t = 1).

Both are Gaussian paths, so every solver and guidance wrapper applies; the network usually predicts
the velocity :math:`u = \dot\alpha x_0 + \dot\sigma \varepsilon` (flow matching / rectified flow).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.processes.gaussian import GaussianPath


@dataclass(frozen=True)
class LinearInterpolant(GaussianPath):
    """Rectified flow / conditional OT path: alpha = 1 - t, sigma = t; velocity u = eps - x0."""

    prediction: str = "velocity"

    def alpha(self, t: Tensor) -> Tensor:
        return 1.0 - t

    def sigma(self, t: Tensor) -> Tensor:
        return t

    def d_alpha(self, t: Tensor) -> Tensor:
        return -torch.ones_like(t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)


@dataclass(frozen=True)
class TrigInterpolant(GaussianPath):
    """Trigonometric (variance-preserving) interpolant: alpha = cos(pi t / 2), sigma = sin(pi t / 2)."""

    prediction: str = "velocity"

    def alpha(self, t: Tensor) -> Tensor:
        return torch.cos(0.5 * math.pi * t)

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sin(0.5 * math.pi * t)

    def d_alpha(self, t: Tensor) -> Tensor:
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)
