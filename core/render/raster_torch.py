"""Pure-torch tile rasterizer for 3D Gaussian splatting (CPU or any device), differentiable by autograd.

Pipeline: EWA projection (:mod:`.projection`) -> per-Gaussian pixel box from the ``extent``-sigma ellipse,
tightened by opacity (pixels with alpha < 1/255 are never composited) -> (tile, Gaussian) pairs sorted by
image, tile and depth -> tiles grouped by their Gaussian count into chunks of bounded size, each chunk a
padded index tensor ``[tiles, K]`` composited by :func:`.compositing.composite`. Memory is bounded by
``chunk_elems`` (tiles x K x pixels per tile) per chunk; when more than one chunk is needed and gradients are
on, each chunk is recomputed in the backward pass (activation checkpointing), so peak memory stays one chunk.
The output does not depend on the tile size: each pixel tests its own ellipse.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from genforge.core.render.compositing import ALPHA_MIN, composite
from genforge.core.render.output import RenderOutput, as_batched
from genforge.core.render.projection import Projected, project


def _support(proj: Projected, width: int, height: int, extent: float) -> tuple[Tensor, Tensor, Tensor]:
    """Visible mask ``[I, N]`` and half box sizes ``rx, ry [I, N]`` in pixels (no gradient)."""
    with torch.no_grad():
        opac = proj.opacities.detach()
        radius = torch.sqrt(2.0 * torch.log((opac / ALPHA_MIN).clamp_min(1.0))).clamp(max=extent)
        rx = radius * proj.cov2d[..., 0, 0].detach().clamp_min(0).sqrt()
        ry = radius * proj.cov2d[..., 1, 1].detach().clamp_min(0).sqrt()
        mx, my = proj.means2d.detach().unbind(-1)
        inside = (mx + rx > 0) & (mx - rx < width) & (my + ry > 0) & (my - ry < height)
        visible = proj.valid & (opac >= ALPHA_MIN) & inside & torch.isfinite(mx) & torch.isfinite(my)
    return visible, rx, ry


def _pixel_grid(tiles: Tensor, tiles_x: int, tiles_per_image: int, tile_size: int, width: int, height: int
                ) -> tuple[Tensor, Tensor]:
    """Pixel centres ``[T, P, 2]`` of global tile ids ``[T]`` and their flat output rows ``[T, P]`` (-1 = off)."""
    image, local = tiles // tiles_per_image, tiles % tiles_per_image
    offs = torch.arange(tile_size, device=tiles.device)
    xs = ((local % tiles_x) * tile_size)[:, None, None] + offs[None, None, :]
    ys = ((local // tiles_x) * tile_size)[:, None, None] + offs[None, :, None]
    xs, ys = xs.expand(-1, tile_size, -1).reshape(len(tiles), -1), ys.expand(-1, -1, tile_size).reshape(len(tiles), -1)
    rows = image[:, None] * (height * width) + ys * width + xs
    rows = torch.where((xs < width) & (ys < height), rows, torch.full_like(rows, -1))
    return torch.stack([xs, ys], -1) + 0.5, rows


def _bin(proj: Projected, visible: Tensor, rx: Tensor, ry: Tensor, width: int, height: int, tile_size: int
         ) -> tuple[Tensor, Tensor, Tensor]:
    """Flat Gaussian rows sorted by (tile, depth) ``[M]``, per-tile counts and start offsets ``[I * tiles]``."""
    num_images, n = visible.shape
    tiles_x, tiles_y = math.ceil(width / tile_size), math.ceil(height / tile_size)
    rows = visible.reshape(-1).nonzero().squeeze(1)
    rows = rows[torch.argsort(proj.depths.detach().reshape(-1)[rows], stable=True)]
    rows = rows[torch.argsort(rows // n, stable=True)]
    mx, my = (v.reshape(-1)[rows] for v in proj.means2d.detach().unbind(-1))
    rxs, rys = rx.reshape(-1)[rows], ry.reshape(-1)[rows]
    x0 = ((mx - rxs) / tile_size).floor().clamp(0, tiles_x - 1).long()
    x1 = ((mx + rxs) / tile_size).floor().clamp(0, tiles_x - 1).long()
    y0 = ((my - rys) / tile_size).floor().clamp(0, tiles_y - 1).long()
    y1 = ((my + rys) / tile_size).floor().clamp(0, tiles_y - 1).long()
    nx = x1 - x0 + 1
    counts = nx * (y1 - y0 + 1)
    owner = torch.repeat_interleave(torch.arange(len(rows), device=rows.device), counts)
    local = torch.arange(owner.numel(), device=rows.device) - (torch.cumsum(counts, 0) - counts)[owner]
    tile = (rows[owner] // n) * (tiles_x * tiles_y) + (y0[owner] + local // nx[owner]) * tiles_x + (
        x0[owner] + local % nx[owner])
    order = torch.argsort(tile, stable=True)
    tile_counts = torch.bincount(tile, minlength=num_images * tiles_x * tiles_y)
    return rows[owner][order], tile_counts, torch.cumsum(tile_counts, 0) - tile_counts


@dataclass(frozen=True)
class _Prepared:
    """Projected Gaussians of every image with their screen support and the flat per-row views compositing reads."""

    proj: Projected
    visible: Tensor
    rx: Tensor
    ry: Tensor
    flat_args: tuple[Tensor, ...]

    @property
    def radii(self) -> Tensor:
        """Integer half box size ``[I, N]`` in pixels (0 where not visible), gsplat's ``radii``."""
        return torch.where(self.visible, torch.maximum(self.rx, self.ry).ceil(), torch.zeros_like(self.rx)).long()


def _prepare(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor, viewmats: Tensor,
             Ks: Tensor, width: int, height: int, sh_degree: int | None, near_plane: float, far_plane: float,
             eps2d: float, extent: float) -> _Prepared:
    """Batch the inputs, project them and find each Gaussian's screen support (shared by both rasterizers)."""
    means, quats, scales, opacities, colors, viewmats, Ks = as_batched(means, quats, scales, opacities, colors,
                                                                        viewmats, Ks, sh_degree)
    proj = project(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree=sh_degree,
                   near_plane=near_plane, far_plane=far_plane, eps2d=eps2d)
    num_images, n = proj.depths.shape
    visible, rx, ry = _support(proj, width, height, extent)
    flat_args = (proj.means2d.reshape(-1, 2), proj.conics.reshape(-1, 3), proj.opacities.reshape(-1),
                 proj.colours.reshape(num_images * n, -1), proj.depths.reshape(-1))
    return _Prepared(proj, visible, rx, ry, flat_args)


def _finish(flat: Tensor, num_images: int, width: int, height: int, background: Tensor | None) -> tuple[Tensor, ...]:
    """``[I * H * W, D + 2]`` sums -> image ``[I, D, H, W]`` over the background, depth and alpha ``[I, 1, H, W]``."""
    maps = flat.reshape(num_images, height, width, -1).permute(0, 3, 1, 2)
    colour, depth_sum, alpha = maps[:, :-2], maps[:, -2:-1], maps[:, -1:]
    if background is not None:
        bg = background.reshape(-1, colour.shape[1]).to(colour)
        colour = colour + (1.0 - alpha) * bg.expand(num_images, -1)[:, :, None, None]
    return colour, depth_sum / alpha.clamp_min(1e-10), alpha


def rasterize_torch(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor,
                    viewmats: Tensor, Ks: Tensor, width: int, height: int, *, sh_degree: int | None = None,
                    background: Tensor | None = None, near_plane: float = 0.01, far_plane: float = 1e10,
                    eps2d: float = 0.3, alpha_max: float = 0.99, extent: float = 3.0, tile_size: int = 8,
                    chunk_elems: int = 1 << 21) -> RenderOutput:
    """Render Gaussians into cameras with the tile rasterizer.

    Args:
        means: centres ``[N, 3]`` or ``[B, N, 3]`` (world units).
        quats: rotations ``[(B,) N, 4]`` (w, x, y, z), any norm.
        scales: standard deviations ``[(B,) N, 3]`` (activated, > 0).
        opacities: ``[(B,) N]`` in (0, 1) (activated).
        colors: activated features ``[(B,) N, D]``, or SH coefficients ``[(B,) N, K, 3]`` with ``sh_degree``.
        viewmats: world-to-camera ``[(B,) C, 4, 4]`` (OpenCV axes).
        Ks: intrinsics ``[(B,) C, 3, 3]``.
        width, height: image size in pixels.
        sh_degree: SH degree to evaluate (``None``: ``colors`` are final features).
        background: ``[D]`` or ``[I, D]`` colour behind the Gaussians (default black).
        near_plane, far_plane: depth range kept (camera z).
        eps2d: screen-space dilation added to the 2-D covariance (pixels^2).
        alpha_max: alpha clamp (0.99 as 3DGS).
        extent: support radius in standard deviations of the dilated 2-D Gaussian.
        tile_size: tile edge in pixels (speed only; the image does not depend on it).
        chunk_elems: bound on tiles x K x pixels-per-tile composited at once (memory).

    Returns:
        :class:`RenderOutput` with ``I = C`` (unbatched) or ``B * C`` images.
    """
    prep = _prepare(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, near_plane,
                    far_plane, eps2d, extent)
    proj, num_images = prep.proj, prep.proj.depths.shape[0]
    sorted_rows, tile_counts, tile_starts = _bin(proj, prep.visible, prep.rx, prep.ry, width, height, tile_size)
    busy = tile_counts.nonzero().squeeze(1)
    busy = busy[torch.argsort(tile_counts[busy], descending=True, stable=True)]
    busy_counts = tile_counts[busy].tolist()
    tiles_x = math.ceil(width / tile_size)
    tiles_per_image = tiles_x * math.ceil(height / tile_size)
    chunks, start = [], 0
    while start < len(busy_counts):
        size = max(1, chunk_elems // (busy_counts[start] * tile_size**2))
        chunks.append((start, min(start + size, len(busy_counts))))
        start += size
    recompute = len(chunks) > 1 and torch.is_grad_enabled()
    values, out_rows = [], []
    for lo, hi in chunks:
        tiles, k = busy[lo:hi], busy_counts[lo]
        slots = torch.arange(k, device=tiles.device)
        present = slots[None] < tile_counts[tiles][:, None]
        index = sorted_rows[(tile_starts[tiles][:, None] + slots[None]).clamp(max=max(len(sorted_rows) - 1, 0))]
        pixels, rows = _pixel_grid(tiles, tiles_x, tiles_per_image, tile_size, width, height)
        pixels = pixels.to(proj.means2d.dtype)
        args = (pixels, index, present, *prep.flat_args, alpha_max, extent)
        value = checkpoint(composite, *args, use_reentrant=False) if recompute else composite(*args)
        on = rows >= 0
        values.append(value[on])
        out_rows.append(rows[on])
    channels = proj.colours.shape[-1] + 2
    flat = torch.zeros(num_images * height * width, channels, dtype=proj.means2d.dtype, device=proj.means2d.device)
    if values:
        flat = flat.index_put((torch.cat(out_rows),), torch.cat(values))
    image, depth, alpha = _finish(flat, num_images, width, height, background)
    return RenderOutput(image=image, depth=depth, alpha=alpha, means2d=proj.means2d, radii=prep.radii)


def rasterize_dense(means: Tensor, quats: Tensor, scales: Tensor, opacities: Tensor, colors: Tensor,
                    viewmats: Tensor, Ks: Tensor, width: int, height: int, *, sh_degree: int | None = None,
                    background: Tensor | None = None, near_plane: float = 0.01, far_plane: float = 1e10,
                    eps2d: float = 0.3, alpha_max: float = 0.99, extent: float = 3.0) -> RenderOutput:
    """All-pairs reference: every pixel against every visible Gaussian of its image, ``O(I * H * W * N)`` memory.

    Same arguments and output as :func:`rasterize_torch`; used to check the tiling and as the benchmark baseline.
    """
    prep = _prepare(means, quats, scales, opacities, colors, viewmats, Ks, width, height, sh_degree, near_plane,
                    far_plane, eps2d, extent)
    proj = prep.proj
    num_images, n = proj.depths.shape
    device = proj.means2d.device
    ys, xs = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    pixels = (torch.stack([xs, ys], -1).reshape(1, -1, 2) + 0.5).to(proj.means2d)
    maps = []
    for image in range(num_images):
        rows = prep.visible[image].nonzero().squeeze(1)
        rows = image * n + rows[torch.argsort(proj.depths[image, rows].detach(), stable=True)]
        present = torch.ones(1, len(rows), dtype=torch.bool, device=device)
        maps.append(composite(pixels, rows[None], present, *prep.flat_args, alpha_max, extent)[0])
    image_out, depth, alpha = _finish(torch.cat(maps), num_images, width, height, background)
    return RenderOutput(image=image_out, depth=depth, alpha=alpha, means2d=proj.means2d, radii=prep.radii)
