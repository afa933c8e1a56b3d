"""The one interface every noising process implements (Gaussian, interpolant, BFN, periodic).

Convention (DESIGN.md): t in [0, 1], t = 0 is data, t = 1 is the prior; t is a float tensor whose
first dimension matches the leading dimension of the data (``[B]`` for dense data, ``[N]`` for
per-node data of a graph batch: gather ``t[batch]`` before calling).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor


def expand_like(t: Tensor, x: Tensor) -> Tensor:
    """Reshape a per-sample tensor ``[B]`` to ``[B, 1, ..., 1]`` so it broadcasts against ``x``."""
    return t.reshape(t.shape[0], *([1] * (x.dim() - 1)))


def reduce_per_sample(values: Tensor) -> Tensor:
    """Mean over every dimension but the first: ``[B, ...] -> [B]``."""
    return values.reshape(values.shape[0], -1).mean(dim=1)


class Process(ABC):
    """A forward (noising) process between data (t = 0) and a prior (t = 1).

    Subclasses are frozen dataclasses so that they hash, compare and serialise into configs.
    """

    @abstractmethod
    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Draw from the prior at t = 1. Shape ``shape``."""

    @abstractmethod
    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Draw the noise that ``corrupt`` consumes, shaped like ``x0``."""

    @abstractmethod
    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """Return x_t given clean data ``x0``, times ``t`` ``[B]`` and ``noise`` shaped like ``x0``."""

    @abstractmethod
    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Regression target of the network for this process's prediction kind."""

    def loss(self, pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Per-sample training loss ``[B]`` (mean squared error to ``target`` by default)."""
        return reduce_per_sample((pred - self.target(x0, noise, t)).square())
