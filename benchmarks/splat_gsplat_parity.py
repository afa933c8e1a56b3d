"""Image and gradient parity of the pure-torch rasterizer with gsplat's CUDA kernels (needs a CUDA GPU).

``python -m benchmarks.splat_gsplat_parity`` renders seeded scenes with ``backend="gsplat"`` (gsplat's fused
``rasterization``; its kernels compile on first use, which needs nvcc) and with the torch backend set to the
kernel's constants (``alpha_max=0.999``, ``extent=3.33``), both on the GPU in float32, and compares colour,
alpha and expected depth, and the gradients of an L2 image loss with respect to means, quaternions, scales,
opacities and SH coefficients (error relative to the largest gradient entry). Tolerance (issue 8): 1e-3.
Appends the table to benchmarks/RESULTS.md. On a machine without CUDA it says so and exits with code 1.
"""

from __future__ import annotations

import argparse
import sys

import torch

from benchmarks.results import append_result
from genforge.core.render import intrinsics_from_fov, orbit_viewmats, rasterize
from genforge.core.render.raster_gsplat import GSPLAT_ALPHA_MAX, GSPLAT_EXTENT, gsplat_available

NAMES = ("means", "quats", "scales", "opacities", "sh")
TOLERANCE = 1e-3


def scene(n: int, seed: int, device: torch.device) -> list[torch.Tensor]:
    """Seeded Gaussians (SH degree 3) around the origin, leaves requiring grad on ``device``."""
    g = torch.Generator().manual_seed(seed)
    tensors = [torch.rand(n, 3, generator=g) * 2 - 1, torch.randn(n, 4, generator=g),
               torch.exp(torch.randn(n, 3, generator=g) * 0.4 - 3.5), torch.rand(n, generator=g) * 0.95,
               torch.randn(n, 16, 3, generator=g) * 0.3]
    return [t.to(device).requires_grad_(True) for t in tensors]


def compare(n: int, size: int, cameras: int, seed: int, device: torch.device) -> dict[str, float]:
    """Max abs differences of the outputs and relative max differences of the gradients."""
    viewmats = orbit_viewmats(cameras, 4.0, 0.4).to(device)
    Ks = intrinsics_from_fov(0.69, size, size)[None].repeat(cameras, 1, 1).to(device)
    target = torch.rand(cameras, 3, size, size, generator=torch.Generator().manual_seed(seed)).to(device)
    background = torch.tensor([1.0, 1.0, 1.0], device=device)
    results, grads = {}, {}
    for backend in ("gsplat", "torch"):
        params = scene(n, seed, device)
        out = rasterize(*params, viewmats, Ks, size, size, sh_degree=3, background=background, backend=backend,
                        alpha_max=GSPLAT_ALPHA_MAX, extent=GSPLAT_EXTENT)
        (out.image - target).square().mean().backward()
        results[backend] = {key: getattr(out, key).detach() for key in ("image", "alpha", "depth")}
        grads[backend] = [p.grad.detach().clone() for p in params]
    ref, ours = results["gsplat"], results["torch"]
    row = {f"{key}_max_abs": float((ref[key] - ours[key]).abs().max()) for key in ("image", "alpha")}
    hit = (ref["alpha"] > 0.5) & (ours["alpha"] > 0.5)
    row["depth_max_rel"] = float(((ref["depth"] - ours["depth"]).abs() / ours["depth"])[hit].max())
    for name, ref_grad, our_grad in zip(NAMES, grads["gsplat"], grads["torch"], strict=True):
        row[f"grad_{name}_rel"] = float((ref_grad - our_grad).abs().max() / ref_grad.abs().max().clamp_min(1e-30))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch RESULTS.md")
    args = parser.parse_args()
    if not gsplat_available():
        print("splat_gsplat_parity: needs a CUDA GPU and gsplat; nothing measured", file=sys.stderr)
        sys.exit(1)
    device = torch.device("cuda")
    configs = [(2000, 64, 2, 0), (20000, 128, 2, 1), (100000, 256, 1, 2)]
    rows = [(cfg, compare(*cfg, device)) for cfg in configs]
    keys = list(rows[0][1])
    lines = ["| Gaussians | image | cameras | " + " | ".join(keys) + " |", "|---:" * (3 + len(keys)) + "|"]
    for (n, size, cams, _), row in rows:
        lines.append(f"| {n} | {size}x{size} | {cams} | " + " | ".join(f"{row[k]:.2e}" for k in keys) + " |")
    worst = max(max(row.values()) for _, row in rows)
    body = "\n".join(lines) + (f"\n\nTolerance {TOLERANCE:g}: {'met' if worst <= TOLERANCE else 'NOT met'} "
                               f"(worst {worst:.2e}). gsplat {__import__('gsplat').__version__}.")
    print(body)
    if not args.no_append:
        append_result("3DGS torch rasterizer vs gsplat CUDA parity (benchmarks/splat_gsplat_parity.py)", body)


if __name__ == "__main__":
    main()
