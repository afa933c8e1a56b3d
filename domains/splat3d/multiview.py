r"""The multiview model: one clean context view + noisy target views -> per-pixel 3D Gaussians -> renders.

Three kinds share :class:`~genforge.domains.splat3d.mvnet.MultiViewNet` (DSplats, Miao et al. 2024 and
DFM, Tewari et al. 2023, at CPU scale):

* ``splat``: a diffusion denoiser with a 3D bottleneck. The network reads the context view and the noisy
  target views ``x_t`` (each with its Plücker ray map and time) and predicts, for every pixel of every view,
  one Gaussian (splatter image, Szymanowicz et al. 2024): centre ``o + depth * d + offset`` on the pixel's
  ray, scales, rotation, opacity and RGB colour. The union of all views' Gaussians is one scene; its renders
  into the target cameras are the x0 estimate, so every denoising step (and the sample) is a 3D scene.
* ``regression``: the same network and head given the context view only (no target inputs, no noise): a
  deterministic single-view reconstructor (splatter image).
* ``pixel``: the same network predicting the target views' RGB directly (multiview diffusion without the
  3D bottleneck).

Images enter and leave the model in [-1, 1] (data ``x = 2 * image - 1``); cameras live in the context frame
of :mod:`genforge.domains.splat3d.rays`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import torch
from torch import Tensor, nn

from genforge.core.render import Gaussians, intrinsics_from_fov, rasterize, rgb_to_sh
from genforge.domains.splat3d.mvnet import MultiViewNet, MultiViewNetConfig
from genforge.domains.splat3d.rays import canonical_context, pixel_rays, plucker

Kind = Literal["splat", "regression", "pixel"]
SPLAT_CHANNELS = 15
"""Per-pixel raw outputs: depth 1, offset 3, scale 3, rotation 4, opacity 1, colour 3."""
RASTER_OPTIONS = {"tile_size": 4, "chunk_elems": 1 << 18}
"""Torch-rasterizer tiling for the small per-pixel Gaussians (1-4 px) at 32 px: 4 px tiles and small chunks
pad each tile's depth list less; measured 2x faster per training step than 8 px tiles / 2M-element chunks.
Speed only: the image does not depend on it."""


@dataclass(frozen=True)
class MultiviewConfig:
    """Model recipe: ``kind`` (see module), image ``size`` and camera (``fov`` radians, orbit ``radius``,
    as the dataset), depth range ``radius +- depth_range`` along each ray, offset bound ``max_offset``,
    scale range ``[min_scale, max_scale]`` (world units) and the network widths."""

    kind: Kind = "splat"
    size: int = 32
    fov: float = 0.8
    radius: float = 2.6
    depth_range: float = 1.5
    max_offset: float = 0.2
    min_scale: float = 0.004
    max_scale: float = 0.1
    channels: int = 32
    depth: int = 4
    heads: int = 4


@dataclass
class ViewCond:
    """Conditioning of a batch: the context image ``[B, 3, H, W]`` in [-1, 1], target cameras
    ``[B, T, 4, 4]`` (context frame) and ``keep [B]`` (False: context dropped, the CFG null condition)."""

    context: Tensor
    targets: Tensor
    keep: Tensor

    def dropped(self) -> ViewCond:
        """The null condition: same cameras, context image removed."""
        return replace(self, keep=torch.zeros_like(self.keep))


@dataclass
class SplatBatch:
    """Batched per-pixel Gaussians (activated): ``means, quats, scales [B, N, 3|4|3]``, ``opacities [B, N]``,
    ``colours [B, N, 3]`` in [0, 1]."""

    means: Tensor
    quats: Tensor
    scales: Tensor
    opacities: Tensor
    colours: Tensor

    def select(self, index: int) -> SplatBatch:
        """Scene ``index`` as a batch of one."""
        return SplatBatch(*(getattr(self, name)[index:index + 1] for name in
                            ("means", "quats", "scales", "opacities", "colours")))

    def scene(self, index: int) -> Gaussians:
        """Scene ``index`` as :class:`Gaussians` (SH degree 0, unconstrained parameters) for .ply export."""
        return Gaussians(self.means[index].detach().clone(), self.quats[index].detach().clone(),
                         self.scales[index].detach().log(), torch.logit(self.opacities[index].detach(), eps=1e-6),
                         rgb_to_sh(self.colours[index].detach())[:, None])


class MultiviewModel(nn.Module):
    """``model(x_t [B, T, 3, H, W], t [B], cond: ViewCond) -> x0 estimate [B, T, 3, H, W]`` in [-1, 1]."""

    def __init__(self, cfg: MultiviewConfig):
        super().__init__()
        self.cfg = cfg
        out = 3 if cfg.kind == "pixel" else SPLAT_CHANNELS
        self.net = MultiViewNet(MultiViewNetConfig(in_channels=11, out_channels=out, channels=cfg.channels,
                                                   depth=cfg.depth, heads=cfg.heads))
        self.register_buffer("Ks", intrinsics_from_fov(cfg.fov, cfg.size, cfg.size), persistent=False)

    def forward(self, x_t: Tensor | None, t: Tensor, cond: ViewCond, *, with_context: bool = False) -> Tensor:
        """Target views (and the context view first when ``with_context``, ``[B, 1 + T, ...]``) in [-1, 1]."""
        if self.cfg.kind == "pixel":
            raw = self._raw(x_t, t, cond)
            return torch.tanh(raw[:, 1:])
        cameras = self._cameras(cond)
        images = self.render(self.gaussians(x_t, t, cond), cameras if with_context else cameras[:, 1:])
        return 2 * images - 1

    def gaussians(self, x_t: Tensor | None, t: Tensor, cond: ViewCond) -> SplatBatch:
        """Per-pixel Gaussians of the context view (and of the target views unless ``regression``)."""
        raw = self._raw(x_t, t, cond)
        b, v = raw.shape[:2]
        origins, directions = pixel_rays(self._cameras(cond)[:, :v], self.Ks, self.cfg.size)
        raw = raw.permute(0, 1, 3, 4, 2).reshape(b, -1, SPLAT_CHANNELS)
        origins, directions = origins.reshape(b, -1, 3), directions.reshape(b, -1, 3)
        cfg = self.cfg
        depth = cfg.radius + cfg.depth_range * torch.tanh(raw[..., :1])
        means = origins + depth * directions + cfg.max_offset * torch.tanh(raw[..., 1:4])
        scales = cfg.min_scale + (cfg.max_scale - cfg.min_scale) * torch.sigmoid(raw[..., 4:7] - 1.0)
        quats = raw[..., 7:11] + raw.new_tensor([1.0, 0.0, 0.0, 0.0])
        return SplatBatch(means, quats, scales, torch.sigmoid(raw[..., 11] + 1.0), torch.sigmoid(raw[..., 12:15]))

    def render(self, splats: SplatBatch, viewmats: Tensor) -> Tensor:
        """Images ``[B, C, 3, H, W]`` in [0, 1] (white background) of the scenes in cameras ``[B, C, 4, 4]``."""
        b, c = viewmats.shape[:2]
        size = self.cfg.size
        options = {} if splats.means.is_cuda else RASTER_OPTIONS
        out = rasterize(splats.means, splats.quats, splats.scales, splats.opacities, splats.colours, viewmats,
                        self.Ks.expand(b, c, 3, 3), size, size, background=splats.means.new_ones(3), **options)
        return out.image.reshape(b, c, 3, size, size)

    def _cameras(self, cond: ViewCond) -> Tensor:
        """Context + target cameras ``[B, 1 + T, 4, 4]``."""
        ctx = canonical_context(cond.targets.shape[0], self.cfg.radius, cond.targets.dtype).to(cond.targets)
        return torch.cat([ctx[:, None], cond.targets], dim=1)

    def _raw(self, x_t: Tensor | None, t: Tensor, cond: ViewCond) -> Tensor:
        """Network output ``[B, V, C, H, W]``; V = 1 (regression) or 1 + T."""
        keep = cond.keep.to(cond.context)
        context = cond.context * keep[:, None, None, None]
        views = context[:, None]
        times = torch.zeros_like(t)[:, None]
        if self.cfg.kind != "regression":
            if x_t is None:
                raise ValueError(f"the {self.cfg.kind!r} model needs noisy target views x_t")
            views = torch.cat([views, x_t], dim=1)
            times = torch.cat([times, t[:, None].expand(-1, x_t.shape[1])], dim=1)
        b, v = views.shape[:2]
        rays = plucker(self._cameras(cond)[:, :v], self.Ks, self.cfg.size)
        roles = torch.zeros(b, v, 2, 1, 1, dtype=views.dtype, device=views.device)
        roles[:, 0, 0] = 1.0
        roles[:, :, 1] = keep[:, None, None, None].expand(b, v, 1, 1)
        inputs = torch.cat([views, rays / math.sqrt(self.cfg.radius), roles.expand(-1, -1, -1, *views.shape[-2:])],
                           dim=2)
        return self.net(inputs, times)
