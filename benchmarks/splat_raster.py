"""Forward + backward time of the pure-torch tile rasterizer vs the dense all-pairs reference (CPU).

``python -m benchmarks.splat_raster`` renders a seeded scene (Gaussians uniform in [-1, 1]^3, log-normal
scales with median 0.018, SH degree 1, one camera at distance 4, field of view 0.69 rad as NeRF-synthetic),
times ``loss.backward()`` of an L2 image loss for the tile rasterizer (``rasterize_torch``) and the dense
reference (``rasterize_dense``: every pixel against every Gaussian), sweeping the number of Gaussians at
64 x 64 and the image size at 3k Gaussians. Appends the table to benchmarks/RESULTS.md and writes
benchmarks/figures/splat_raster_scaling.png. Target (issue 8): >= 10x faster than dense at 64 x 64, 10k.
Times are process CPU seconds on one thread (``time.process_time``), best of ``--repeats`` runs, so that other
processes on a shared machine do not inflate them.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from benchmarks.results import append_result
from genforge.core.render import RenderOutput, intrinsics_from_fov, orbit_viewmats, rasterize_dense, rasterize_torch

FIGURE = Path(__file__).resolve().parent / "figures" / "splat_raster_scaling.png"
DENSE_LIMIT = 6e7  # pixels x Gaussians above which the dense reference is skipped (memory)


def scene(n: int, seed: int = 0) -> list[torch.Tensor]:
    """means, quats, scales, opacities, SH (degree 1) of ``n`` Gaussians, leaves requiring grad."""
    g = torch.Generator().manual_seed(seed)
    tensors = [torch.rand(n, 3, generator=g) * 2 - 1, torch.randn(n, 4, generator=g),
               torch.exp(torch.randn(n, 3, generator=g) * 0.3 - 4.0), torch.rand(n, generator=g) * 0.9 + 0.05,
               torch.randn(n, 4, 3, generator=g) * 0.3]
    return [t.requires_grad_(True) for t in tensors]


def time_backward(fn: Callable[..., RenderOutput], params: list[torch.Tensor], size: int, repeats: int
                  ) -> tuple[float, float]:
    """Best CPU time (s) of forward + backward, and the mean pixel radius of the visible Gaussians."""
    viewmats = orbit_viewmats(1, 4.0, 0.4)
    Ks = intrinsics_from_fov(0.69, size, size)[None]
    target = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    best, radius = float("inf"), 0.0
    for _ in range(repeats):
        for p in params:
            p.grad = None
        start = time.process_time()
        out = fn(*params, viewmats, Ks, size, size, sh_degree=1, background=torch.ones(3))
        (out.image - target).square().mean().backward()
        best = min(best, time.process_time() - start)
        radius = float(out.radii[out.radii > 0].float().mean())
    return best, radius


def run(configs: list[tuple[int, int]], repeats: int) -> list[dict[str, float]]:
    """One row per (Gaussians, image size)."""
    rows = []
    for n, size in configs:
        params = scene(n)
        tile, radius = time_backward(rasterize_torch, params, size, repeats)
        dense = time_backward(rasterize_dense, params, size, 1)[0] if n * size * size <= DENSE_LIMIT else float("nan")
        rows.append({"n": n, "size": size, "radius": radius, "tile": tile, "dense": dense})
        print(f"N={n:>6} {size}x{size}: tile {tile * 1e3:8.1f} ms  dense {dense * 1e3:9.1f} ms  "
              f"radius {radius:.1f} px", flush=True)
    return rows


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Log-log time vs Gaussians (64 x 64) and vs pixels (3k Gaussians)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    sweeps = (("n", sorted((r for r in rows if r["size"] == 64), key=lambda r: r["n"]), "Gaussians (64 x 64 image)"),
              ("size", sorted((r for r in rows if r["n"] == 3000), key=lambda r: r["size"]), "pixels (3k Gaussians)"))
    for ax, (key, sweep, label) in zip(axes, sweeps, strict=True):
        xs = [r[key] ** 2 if key == "size" else r[key] for r in sweep]
        for name, style in (("tile", "o-"), ("dense", "s--")):
            ax.loglog(xs, [r[name] for r in sweep], style, label=f"{name} (fwd+bwd)")
        ax.set_xlabel(label)
        ax.set_ylabel("CPU seconds")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle("Pure-torch 3DGS rasterizer on CPU, 1 thread")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def table(rows: list[dict[str, float]]) -> str:
    lines = ["| Gaussians | image | mean radius (px) | tile fwd+bwd (ms) | dense fwd+bwd (ms) | speed-up |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        speed = f"{r['dense'] / r['tile']:.1f}x" if r["dense"] == r["dense"] else "dense skipped (memory)"
        dense = f"{r['dense'] * 1e3:.0f}" if r["dense"] == r["dense"] else "-"
        lines.append(f"| {r['n']} | {r['size']}x{r['size']} | {r['radius']:.1f} | {r['tile'] * 1e3:.0f} | {dense} | "
                     f"{speed} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch RESULTS.md")
    args = parser.parse_args()
    torch.set_num_threads(1)
    configs = [(1000, 64), (3000, 64), (10000, 64), (30000, 64), (3000, 32), (3000, 128), (3000, 256)]
    rows = run(configs, args.repeats)
    plot(rows, FIGURE)
    body = (table(rows) + "\n\nTarget: >= 10x faster than dense at 64x64 with 10k Gaussians. Process CPU time, "
            f"one thread; figure: benchmarks/figures/{FIGURE.name}.")
    print(body)
    if not args.no_append:
        append_result("3DGS CPU rasterizer: tiles vs dense all-pairs (benchmarks/splat_raster.py)", body)


if __name__ == "__main__":
    main()
