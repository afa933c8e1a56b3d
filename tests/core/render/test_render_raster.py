"""The tile rasterizer: equal to the all-pairs reference and to a per-pixel sequential loop (the kernels'
logic), independent of tiling, float64 gradcheck, and compositing invariants."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.render import intrinsics_from_fov, orbit_viewmats, rasterize, rasterize_dense, rasterize_torch
from genforge.core.render.projection import project


def _scene(n: int, seed: int = 0, dtype: torch.dtype = torch.float32, spread: float = 1.0) -> tuple:
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(n, 3, generator=g, dtype=dtype) * 2 - 1) * spread
    quats = torch.randn(n, 4, generator=g, dtype=dtype)
    scales = torch.exp(torch.randn(n, 3, generator=g, dtype=dtype) * 0.3 - 2.0)
    opacities = torch.rand(n, generator=g, dtype=dtype) * 0.9 + 0.05
    sh = torch.randn(n, 9, 3, generator=g, dtype=dtype) * 0.4
    return means, quats, scales, opacities, sh


def _cameras(num: int, width: int, height: int, dtype: torch.dtype = torch.float32) -> tuple:
    viewmats = orbit_viewmats(num, 4.0, 0.4, dtype=dtype)
    return viewmats, intrinsics_from_fov(0.8, width, height, dtype=dtype)[None].repeat(num, 1, 1)


def _loop_reference(scene: tuple, viewmat: torch.Tensor, K: torch.Tensor, width: int, height: int,
                    background: torch.Tensor, alpha_max: float, extent: float) -> torch.Tensor:
    """Per pixel, Gaussians front to back with early stop: the CUDA kernel's control flow, in Python."""
    means, quats, scales, opacities, sh = scene
    proj = project(means[None], quats[None], scales[None], opacities[None], sh[None], viewmat[None, None],
                   K[None, None], width, height, sh_degree=2)
    order = torch.argsort(proj.depths[0])
    image = torch.zeros(3, height, width, dtype=means.dtype)
    for y in range(height):
        for x in range(width):
            transmittance, colour = 1.0, torch.zeros(3, dtype=means.dtype)
            for i in order.tolist():
                if not proj.valid[0, i]:
                    continue
                dx, dy = x + 0.5 - proj.means2d[0, i, 0], y + 0.5 - proj.means2d[0, i, 1]
                a, b, c = proj.conics[0, i]
                sigma = 0.5 * (a * dx * dx + c * dy * dy) + b * dx * dy
                alpha = min(alpha_max, float(opacities[i] * torch.exp(-sigma)))
                if sigma < 0 or sigma > 0.5 * extent**2 or alpha < 1 / 255:
                    continue
                if transmittance * (1 - alpha) <= 1e-4:
                    break
                colour = colour + proj.colours[0, i] * alpha * transmittance
                transmittance *= 1 - alpha
            image[:, y, x] = colour + transmittance * background
    return image


def test_matches_sequential_per_pixel_loop() -> None:
    scene = _scene(25, seed=3, dtype=torch.float64, spread=0.6)
    scene = (*scene[:3], scene[3].clamp(min=0.6), scene[4])  # opaque enough to reach the 1e-4 cut-off
    viewmats, Ks = _cameras(1, 12, 10, torch.float64)
    background = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    expected = _loop_reference(scene, viewmats[0], Ks[0], 12, 10, background, 0.99, 3.0)
    out = rasterize_torch(*scene, viewmats, Ks, 12, 10, sh_degree=2, background=background)
    torch.testing.assert_close(out.image[0], expected)


@pytest.mark.parametrize(("tile_size", "chunk_elems"), [(1, 1 << 20), (4, 1 << 20), (8, 500), (16, 1 << 16)])
def test_tiling_does_not_change_the_image(tile_size: int, chunk_elems: int) -> None:
    scene = _scene(400, seed=1)
    viewmats, Ks = _cameras(2, 37, 29)
    background = torch.tensor([1.0, 1.0, 1.0])
    dense = rasterize_dense(*scene, viewmats, Ks, 37, 29, sh_degree=2, background=background)
    tiled = rasterize_torch(*scene, viewmats, Ks, 37, 29, sh_degree=2, background=background, tile_size=tile_size,
                            chunk_elems=chunk_elems)
    for name in ("image", "depth", "alpha"):
        torch.testing.assert_close(getattr(tiled, name), getattr(dense, name), atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(tiled.radii, dense.radii)


def test_gradients_match_dense_reference_with_chunk_recompute() -> None:
    scene = [t.clone().requires_grad_(True) for t in _scene(300, seed=2)]
    viewmats, Ks = _cameras(1, 24, 24)
    target = torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))
    grads = []
    for fn, options in ((rasterize_dense, {}), (rasterize_torch, {"chunk_elems": 2000})):
        out = fn(*scene, viewmats, Ks, 24, 24, sh_degree=2, **options)
        loss = (out.image - target).square().mean() + out.depth.mean() * 1e-2
        grads.append(torch.autograd.grad(loss, scene))
    for dense_grad, tiled_grad in zip(*grads, strict=True):
        torch.testing.assert_close(tiled_grad, dense_grad, atol=1e-6, rtol=1e-4)


def test_gradcheck_float64_tiny_scene() -> None:
    means, quats, scales, opacities, sh = _scene(3, seed=5, dtype=torch.float64, spread=0.8)
    viewmats, Ks = _cameras(1, 8, 8, torch.float64)
    log_scales = (scales * 4).log()  # 1-2 px wide on the 8 x 8 image

    def render(means: torch.Tensor, quats: torch.Tensor, log_scales: torch.Tensor, opacities: torch.Tensor,
               sh: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = rasterize_torch(means, quats, log_scales.exp(), opacities, sh, viewmats, Ks, 8, 8, sh_degree=2,
                              background=torch.tensor([0.3, 0.3, 0.3], dtype=torch.float64), tile_size=4)
        return out.image, out.alpha, out.depth

    inputs = tuple(t.clone().requires_grad_(True) for t in (means, quats, log_scales, opacities, sh))
    assert render(*inputs)[1].mean() > 0.2
    assert torch.autograd.gradcheck(render, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


def test_empty_scene_is_background_and_alpha_is_bounded() -> None:
    means, quats, scales, opacities, sh = _scene(200, seed=4)
    viewmats, Ks = _cameras(2, 20, 16)
    background = torch.tensor([0.1, 0.7, 0.3])
    faint = rasterize_torch(means, quats, scales, opacities * 0.003, sh, viewmats, Ks, 20, 16, sh_degree=2,
                            background=background)  # every alpha < 1/255: nothing is composited
    assert torch.equal(faint.image, background[None, :, None, None].expand(2, 3, 16, 20))
    assert (faint.radii == 0).all() and (faint.alpha == 0).all()
    out = rasterize(means, quats, scales, opacities.clamp(max=0.999), sh, viewmats, Ks, 20, 16, sh_degree=2,
                    backend="torch")
    assert out.alpha.min() >= 0 and out.alpha.max() <= 1 - 1e-4 + 1e-6
    front = out.depth[out.alpha > 0.5]
    assert front.min() > 4.0 - math.sqrt(3) - 0.5 and front.max() < 4.0 + math.sqrt(3) + 0.5


def test_batched_scenes_equal_separate_renders() -> None:
    scenes = [_scene(100, seed=s) for s in (7, 8)]
    viewmats, Ks = _cameras(3, 16, 16)
    batched = rasterize_torch(*(torch.stack(parts) for parts in zip(*scenes, strict=True)),
                              torch.stack([viewmats, viewmats]), torch.stack([Ks, Ks]), 16, 16, sh_degree=2)
    separate = torch.cat([rasterize_torch(*scene, viewmats, Ks, 16, 16, sh_degree=2).image for scene in scenes])
    torch.testing.assert_close(batched.image, separate)


def test_feature_colours_and_alpha_options() -> None:
    means, quats, scales, opacities, _ = _scene(50, seed=9)
    viewmats, Ks = _cameras(1, 16, 16)
    features = torch.rand(50, 5, generator=torch.Generator().manual_seed(1))
    out = rasterize_torch(means, quats, scales, opacities, features, viewmats, Ks, 16, 16)
    assert out.image.shape == (1, 5, 16, 16)
    one = (torch.zeros(1, 3), torch.tensor([[1.0, 0, 0, 0]]), torch.full((1, 3), 2.0), torch.ones(1),
           torch.ones(1, 3))  # one opaque Gaussian ~9 px wide at the look-at point: peak alpha 0.997
    peaks = [rasterize_torch(*one, viewmats, Ks, 16, 16, alpha_max=a).alpha.max() for a in (0.999, 0.99, 0.5)]
    assert 0.999 > peaks[0] > 0.99
    torch.testing.assert_close(torch.stack(peaks[1:]), torch.tensor([0.99, 0.5]))
    with pytest.raises(ValueError, match="backend"):
        rasterize(means, quats, scales, opacities, features, viewmats, Ks, 16, 16, backend="vulkan")
