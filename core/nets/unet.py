"""U-Net for 1-D, 2-D and 3-D data with time conditioning (Ho et al. 2020; ADM, Dhariwal & Nichol 2021).

ResBlocks use GroupNorm and the time embedding as a scale-shift of the second norm (ADM's
``use_scale_shift_norm``: h = GN(h) (1 + s(t)) + b(t)); optional self-attention at chosen resolution
levels; channel multipliers per level; skip connections from every down-path stage. The last conv of each
residual branch and the output conv start at zero, so the network starts at output 0.
Data layouts: fields ``[B, C, T, X]`` and images ``[B, C, H, W]`` (dims=2), signals ``[B, C, X]`` (dims=1),
volumes ``[B, C, D, H, W]`` (dims=3). Spatial sizes must be multiples of 2^(levels - 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genforge.core.nets.embeddings import sinusoidal_embedding

_CONVS: dict[int, type[nn.Module]] = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}


@dataclass(frozen=True)
class UNetConfig:
    """Architecture of a :class:`UNet`.

    Attributes:
        dims: number of spatial dimensions (1, 2 or 3).
        in_channels: channels of x_t.
        out_channels: channels of the prediction.
        base_channels: channels at level 0; level i has ``base_channels * channel_mult[i]``.
        channel_mult: one multiplier per resolution level (levels - 1 downsamplings).
        num_res_blocks: ResBlocks per level on the down path (one more on the up path).
        attention_levels: levels (0 = full resolution) with self-attention after each ResBlock; the
            middle block attends when the last level is listed.
        attention_heads: heads of those attention layers.
        cond_channels: channels of a conditioning tensor concatenated to x_t (0 = none).
        groups: GroupNorm groups (reduced to a divisor of the channel count where needed).
        dropout: dropout inside ResBlocks.
    """

    dims: int = 2
    in_channels: int = 1
    out_channels: int = 1
    base_channels: int = 32
    channel_mult: tuple[int, ...] = (1, 2, 2)
    num_res_blocks: int = 1
    attention_levels: tuple[int, ...] = ()
    attention_heads: int = 4
    cond_channels: int = 0
    groups: int = 8
    dropout: float = 0.0


def group_norm(channels: int, groups: int) -> nn.GroupNorm:
    """GroupNorm with the largest group count dividing ``channels`` that does not exceed ``groups``."""
    return nn.GroupNorm(math.gcd(groups, channels), channels)


def _zero(module: nn.Module) -> nn.Module:
    for parameter in module.parameters():
        nn.init.zeros_(parameter)
    return module


class ResBlock(nn.Module):
    """GN-SiLU-conv, time scale-shift of GN, SiLU-dropout-conv (zero-init), plus a (1x1) skip."""

    def __init__(self, dims: int, in_channels: int, out_channels: int, time_dim: int, groups: int,
                 dropout: float):
        super().__init__()
        conv = _CONVS[dims]
        self.norm_in = group_norm(in_channels, groups)
        self.conv_in = conv(in_channels, out_channels, 3, padding=1)
        self.time_projection = nn.Linear(time_dim, 2 * out_channels)
        self.norm_out = group_norm(out_channels, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv_out = _zero(conv(out_channels, out_channels, 3, padding=1))
        self.skip = nn.Identity() if in_channels == out_channels else conv(in_channels, out_channels, 1)

    def forward(self, x: Tensor, time_embedding: Tensor) -> Tensor:
        h = self.conv_in(F.silu(self.norm_in(x)))
        scale_shift = self.time_projection(F.silu(time_embedding))
        scale, shift = scale_shift.reshape(*scale_shift.shape, *([1] * (x.dim() - 2))).chunk(2, dim=1)
        h = self.norm_out(h) * (1.0 + scale) + shift
        return self.skip(x) + self.conv_out(self.dropout(F.silu(h)))


class AttentionBlock(nn.Module):
    """Residual multi-head self-attention over all spatial positions (zero-initialised output)."""

    def __init__(self, channels: int, heads: int, groups: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"attention channels {channels} not divisible by heads {heads}")
        self.heads = heads
        self.norm = group_norm(channels, groups)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.projection = _zero(nn.Linear(channels, channels))

    def forward(self, x: Tensor) -> Tensor:
        batch, channels = x.shape[:2]
        tokens = self.norm(x).reshape(batch, channels, -1).transpose(1, 2)
        length = tokens.shape[1]
        q, k, v = self.qkv(tokens).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(batch, length, channels)
        return x + self.projection(out).transpose(1, 2).reshape(x.shape)


class Stage(nn.Module):
    """A ResBlock optionally followed by self-attention."""

    def __init__(self, resblock: ResBlock, attention: AttentionBlock | None):
        super().__init__()
        self.resblock = resblock
        self.attention = attention

    def forward(self, x: Tensor, time_embedding: Tensor) -> Tensor:
        x = self.resblock(x, time_embedding)
        return x if self.attention is None else self.attention(x)


class UNet(nn.Module):
    """Time-conditioned U-Net (see module docstring).

    Args:
        config: the architecture.

    Shapes:
        x_t ``[B, in_channels, *spatial]``, t ``[B]`` in [0, 1], cond ``[B, cond_channels, *spatial]``
        (or None when ``cond_channels == 0``) -> ``[B, out_channels, *spatial]``.
    """

    def __init__(self, config: UNetConfig):
        super().__init__()
        if config.dims not in _CONVS:
            raise ValueError(f"dims must be 1, 2 or 3, got {config.dims}")
        self.config = config
        conv = _CONVS[config.dims]
        base, groups = config.base_channels, config.groups
        time_dim = 4 * base
        self.time_mlp = nn.Sequential(nn.Linear(base, time_dim), nn.SiLU(), nn.Linear(time_dim, time_dim))
        self.input_conv = conv(config.in_channels + config.cond_channels, base * config.channel_mult[0], 3,
                               padding=1)

        def stage(level: int | None, channels_in: int, channels_out: int) -> Stage:
            attention = (AttentionBlock(channels_out, config.attention_heads, groups)
                         if level in config.attention_levels else None)
            resblock = ResBlock(config.dims, channels_in, channels_out, time_dim, groups, config.dropout)
            return Stage(resblock, attention)

        last = len(config.channel_mult) - 1
        channels = base * config.channel_mult[0]
        skip_channels = [channels]
        self.down_stages = nn.ModuleList()
        self.downsamplers = nn.ModuleList()
        for level, mult in enumerate(config.channel_mult):
            level_stages = nn.ModuleList()
            for _ in range(config.num_res_blocks):
                level_stages.append(stage(level, channels, base * mult))
                channels = base * mult
                skip_channels.append(channels)
            self.down_stages.append(level_stages)
            if level != last:
                self.downsamplers.append(conv(channels, channels, 3, stride=2, padding=1))
                skip_channels.append(channels)
        self.middle = nn.ModuleList([stage(last, channels, channels), stage(None, channels, channels)])
        self.up_stages = nn.ModuleList()
        self.upsamplers = nn.ModuleList()
        for level, mult in reversed(list(enumerate(config.channel_mult))):
            level_stages = nn.ModuleList()
            for _ in range(config.num_res_blocks + 1):
                level_stages.append(stage(level, channels + skip_channels.pop(), base * mult))
                channels = base * mult
            self.up_stages.append(level_stages)
            if level != 0:
                self.upsamplers.append(conv(channels, channels, 3, padding=1))
        self.output = nn.Sequential(group_norm(channels, groups), nn.SiLU(),
                                    _zero(conv(channels, config.out_channels, 3, padding=1)))

    def forward(self, x_t: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        factor = 2 ** (len(self.config.channel_mult) - 1)
        if any(size % factor for size in x_t.shape[2:]):
            raise ValueError(f"spatial sizes {tuple(x_t.shape[2:])} must be multiples of {factor}")
        if self.config.cond_channels:
            if cond is None:
                raise ValueError(f"this UNet expects cond [B, {self.config.cond_channels}, *spatial]")
            x_t = torch.cat([x_t, cond.to(x_t.dtype)], dim=1)
        time_embedding = self.time_mlp(sinusoidal_embedding(t, self.config.base_channels).to(x_t.dtype))
        h = self.input_conv(x_t)
        skips = [h]
        for level, level_stages in enumerate(self.down_stages):
            for block in level_stages:
                h = block(h, time_embedding)
                skips.append(h)
            if level < len(self.downsamplers):
                h = self.downsamplers[level](h)
                skips.append(h)
        for block in self.middle:
            h = block(h, time_embedding)
        for index, level_stages in enumerate(self.up_stages):
            for block in level_stages:
                h = block(torch.cat([h, skips.pop()], dim=1), time_embedding)
            if index < len(self.upsamplers):
                h = self.upsamplers[index](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.output(h)
