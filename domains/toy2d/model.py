"""A time-conditioned residual MLP for low-dimensional data (the demo's network)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from genforge.core.nets.embeddings import TimestepEmbedder


class ResidualBlock(nn.Module):
    """x + W2 SiLU(W1 LayerNorm(x) + time): one pre-norm residual MLP block. Shapes ``[B, hidden]``."""

    def __init__(self, hidden: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.inner = nn.Linear(hidden, 2 * hidden)
        self.outer = nn.Linear(2 * hidden, hidden)
        self.time = nn.Linear(hidden, 2 * hidden)

    def forward(self, x: Tensor, time_features: Tensor) -> Tensor:
        return x + self.outer(nn.functional.silu(self.inner(self.norm(x)) + self.time(time_features)))


class TimeMLP(nn.Module):
    """``model(x_t [B, D], t [B], cond=None) -> prediction [B, D]`` for vector data of dimension D."""

    def __init__(self, dim: int = 2, hidden: int = 128, depth: int = 3):
        super().__init__()
        self.embed_time = TimestepEmbedder(hidden)
        self.embed_x = nn.Linear(dim, hidden)
        self.blocks = nn.ModuleList(ResidualBlock(hidden) for _ in range(depth))
        self.head = nn.Sequential(nn.LayerNorm(hidden), nn.Linear(hidden, dim))

    def forward(self, x_t: Tensor, t: Tensor, cond: Any = None) -> Tensor:
        time_features = nn.functional.silu(self.embed_time(t))
        h = self.embed_x(x_t)
        for block in self.blocks:
            h = block(h, time_features)
        return self.head(h)
