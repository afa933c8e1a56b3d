"""``genforge splat ...``: fit Gaussians to posed images and render .ply scenes (imports stay lazy)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "splat3d"
FIT_RECIPE = RECIPES / "cpu" / "fit_lego.yaml"
MULTIVIEW_RECIPE = RECIPES / "cpu" / "multiview_splat.yaml"
SHIPPED_MODEL = Path(__file__).resolve().parent / "checkpoints" / "splat_objects32.pt"

splat_app = typer.Typer(name="splat", help="Gaussian-splat 3D: per-scene fitting, rendering, single-image "
                        "multiview generation.",
                        no_args_is_help=True)


@splat_app.command()
def fit(
    data: Annotated[Path | None, typer.Option(help="NeRF-synthetic scene folder (transforms_train.json + images); "
                                              "default <data root>/nerf_lego_small.")] = None,
    out: Annotated[Path, typer.Option(help="Output .ply; metrics go to <out>.json, gallery to <out>_gallery.png."
                                      )] = Path("outputs/splat3d/lego.ply"),
    config: Annotated[Path, typer.Option(help="Fit recipe YAML.")] = FIT_RECIPE,
    steps: Annotated[int | None, typer.Option(help="Optimisation steps (default: the recipe's).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default: the recipe's).")] = None,
    progress: Annotated[bool, typer.Option(help="Show the progress bar.")] = True,
) -> None:
    """Fit 3D Gaussians to the training views (every k-th held out), export a 3DGS .ply, report held-out
    PSNR / SSIM against the mean-colour and nearest-training-view baselines.

    Example: genforge splat fit --data ../shared/data/nerf_lego_small --out lego.ply
    """
    from dataclasses import replace

    from genforge.core.config import load_config
    from genforge.datasets.nerf_synthetic import default_scene_dir, load_nerf_synthetic
    from genforge.domains.splat3d.fit import FitConfig
    from genforge.domains.splat3d.run import run_fit

    cfg = load_config(config, FitConfig)
    cfg = replace(cfg, steps=cfg.steps if steps is None else steps, seed=cfg.seed if seed is None else seed)
    views = load_nerf_synthetic(data if data is not None else default_scene_dir(), "train", background=cfg.background)
    report = run_fit(views, cfg, out, progress=progress)
    for name, values in report["held_out"].items():
        typer.echo(f"{name:>20}: PSNR {values['psnr']:.2f} dB  SSIM {values['ssim']:.3f}")
    typer.echo(f"fit {report['fit_seconds']:.0f} s wall ({report['fit_cpu_seconds']:.0f} s CPU), "
               f"{report['num_gaussians']} Gaussians -> {out}")


@splat_app.command()
def render(
    ply: Annotated[Path, typer.Option(help="3DGS .ply scene.")],
    camera: Annotated[str, typer.Option(help="'orbit' (turntable around the origin) or a NeRF transforms_*.json "
                                        "whose frames give the poses.")] = "orbit",
    out: Annotated[Path, typer.Option(help="Output PNG (a row of views).")] = Path("outputs/splat3d/render.png"),
    views: Annotated[int, typer.Option(help="Number of views (orbit, or the first N frames of the file).")] = 8,
    size: Annotated[int, typer.Option(help="Image width = height in pixels (orbit).")] = 100,
    radius: Annotated[float, typer.Option(help="Orbit radius (world units).")] = 4.0,
    elevation: Annotated[float, typer.Option(help="Orbit elevation in degrees.")] = 30.0,
    fov: Annotated[float, typer.Option(help="Horizontal field of view in degrees (orbit).")] = 39.6,
    background: Annotated[float, typer.Option(help="Grey level of the background, 0..1.")] = 1.0,
) -> None:
    """Render a .ply scene from orbit cameras or the poses of a transforms.json into a PNG strip.

    Example: genforge splat render --ply lego.ply --views 8 --out lego_orbit.png
    """
    import math

    import torch

    from genforge.core.errors import DataError
    from genforge.core.render import Cameras, intrinsics_from_fov, load_ply, orbit_viewmats, render_gaussians
    from genforge.domains.splat3d.plots import save_gallery

    scene = load_ply(ply)
    if camera == "orbit":
        viewmats = orbit_viewmats(views, radius, math.radians(elevation))
        Ks = intrinsics_from_fov(math.radians(fov), size, size)[None].expand(views, 3, 3).clone()
        cameras = Cameras(viewmats, Ks, size, size)
    else:
        from genforge.datasets.nerf_synthetic import load_nerf_synthetic

        path = Path(camera)
        if not path.name.startswith("transforms_") or path.suffix != ".json":
            raise DataError("expected 'orbit' or a transforms_<split>.json file", source=path, field="--camera")
        posed = load_nerf_synthetic(path.parent, path.stem.removeprefix("transforms_"))
        cameras = posed.cameras[torch.arange(min(views, len(posed)))]
    bg = torch.full((3,), background)
    with torch.no_grad():
        images = torch.cat([render_gaussians(scene, cameras[i], background=bg).image for i in range(len(cameras))])
    save_gallery({"render": images}, out)
    typer.echo(f"wrote {out}")


@splat_app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Multiview recipe YAML (task: splat3d.multiview)."
                                         )] = MULTIVIEW_RECIPE,
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config field, e.g. --set train.steps=500 (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output dir.")] = False,
) -> None:
    """Train a multiview model (splat diffusion, regression or pixel baseline) on procedural objects, then
    evaluate it on held-out objects (metrics.json, gallery.png, turntable.gif, .ply scenes in the run folder).

    Example: genforge splat train --config configs/splat3d/cpu/multiview_splat.yaml --resume
    """
    from genforge.cli import train_recipe

    train_recipe(config, overrides, resume, domain="splat3d")


@splat_app.command()
def generate(
    image: Annotated[Path, typer.Option(help="Input view: an RGB (or RGBA, composited over white) square image.")],
    out: Annotated[Path, typer.Option(help="Output .ply of the sampled Gaussian scene.")] = Path(
        "outputs/splat3d/scene.ply"),
    views: Annotated[Path | None, typer.Option(help="Folder for the novel views (view_k.png), the input view and "
                                               "a turntable GIF.")] = None,
    ckpt: Annotated[Path, typer.Option(help="splat3d.multiview checkpoint (splat or regression kind).")
                    ] = SHIPPED_MODEL,
    num_views: Annotated[int | None, typer.Option(help="Novel views sampled jointly (default: the recipe's).")] = None,
    steps: Annotated[int | None, typer.Option(help="DDIM steps (default: the recipe's).")] = None,
    guidance: Annotated[float | None, typer.Option(help="CFG scale (default: the recipe's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Sample a 3D Gaussian scene from one image: novel views on a circle around the object (the input camera
    at azimuth 0), written as a .ply (3DGS layout) and, with --views, PNGs and a turntable GIF.

    Example: genforge splat generate --image in.png --out scene.ply --views outputs/splat3d/views
    """
    from genforge.domains.splat3d.mv_generate import generate_scene

    written = generate_scene(ckpt, image, out, views, num_views=num_views, steps=steps, guidance=guidance,
                             seed=seed)
    for path in written:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    """Add the ``splat`` group to the genforge app."""
    app.add_typer(splat_app, name="splat")
