"""A small multiview U-Net: per-view convolutional encoder / decoder, joint attention over all views' tokens.

Each view (the clean context view and the noisy target views) is encoded at full, 1/2 and 1/4 resolution by
time-modulated residual blocks shared across views; at 1/4 resolution the tokens of all views of one example
attend to each other (pre-norm transformer), so a target view sees the context view and vice versa; the
decoder goes back to full resolution with skip connections and a per-pixel linear head.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genforge.core.nets.embeddings import TimestepEmbedder


@dataclass(frozen=True)
class MultiViewNetConfig:
    """Architecture: ``channels`` at full resolution (x2 at 1/2, x4 = token width at 1/4), ``depth``
    transformer layers with ``heads`` heads, ``in_channels`` per view and ``out_channels`` per pixel."""

    in_channels: int = 11
    out_channels: int = 14
    channels: int = 32
    depth: int = 4
    heads: int = 4


class ResBlock(nn.Module):
    """``x + conv(SiLU(FiLM_t(GroupNorm(conv(SiLU(GroupNorm(x)))))))`` on ``[N, C, H, W]``, time ``[N, E]``."""

    def __init__(self, channels: int, embed: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = nn.GroupNorm(8, channels)
        self.film = nn.Linear(embed, 2 * channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        scale, shift = self.film(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        return x + self.conv2(nn.functional.silu(h))


class MultiViewNet(nn.Module):
    """``net(views [B, V, C_in, H, W], t [B, V]) -> [B, V, C_out, H, W]`` (H, W divisible by 4)."""

    def __init__(self, cfg: MultiViewNetConfig):
        super().__init__()
        c, embed = cfg.channels, 4 * cfg.channels
        self.embed_time = TimestepEmbedder(embed)
        self.stem = nn.Conv2d(cfg.in_channels, c, 3, padding=1)
        self.enc = nn.ModuleList([ResBlock(c, embed), ResBlock(2 * c, embed), ResBlock(4 * c, embed)])
        self.down = nn.ModuleList([nn.Conv2d(c, 2 * c, 3, stride=2, padding=1),
                                   nn.Conv2d(2 * c, 4 * c, 3, stride=2, padding=1)])
        layer = nn.TransformerEncoderLayer(4 * c, cfg.heads, 8 * c, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.attend = nn.TransformerEncoder(layer, cfg.depth, enable_nested_tensor=False)
        self.up = nn.ModuleList([nn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2),
                                 nn.ConvTranspose2d(2 * c, c, 2, stride=2)])
        self.merge = nn.ModuleList([nn.Conv2d(4 * c, 2 * c, 1), nn.Conv2d(2 * c, c, 1)])
        self.dec = nn.ModuleList([ResBlock(2 * c, embed), ResBlock(c, embed)])
        self.head = nn.Sequential(nn.GroupNorm(8, c), nn.SiLU(), nn.Conv2d(c, cfg.out_channels, 1))

    def forward(self, views: Tensor, t: Tensor) -> Tensor:
        b, v = views.shape[:2]
        emb = nn.functional.silu(self.embed_time(t.reshape(-1)))
        h = self.stem(views.flatten(0, 1))
        skips = []
        for level, block in enumerate(self.enc):
            h = block(h, emb)
            if level < 2:
                skips.append(h)
                h = self.down[level](h)
        channels, height, width = h.shape[1:]
        tokens = h.reshape(b, v, channels, height * width).permute(0, 1, 3, 2).reshape(b, v * height * width,
                                                                                       channels)
        tokens = self.attend(tokens)
        h = tokens.reshape(b, v, height * width, channels).permute(0, 1, 3, 2).reshape(b * v, channels, height,
                                                                                       width)
        for level in range(2):
            h = self.merge[level](torch.cat([self.up[level](h), skips[-1 - level]], dim=1))
            h = self.dec[level](h, emb)
        out = self.head(h)
        return out.reshape(b, v, *out.shape[1:])
