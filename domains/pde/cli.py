"""``genforge pde ...``: generate Burgers / smoke data, train, simulate/control with a model, evaluate,
super-resolve trajectories.

Import-light: torch and the models load inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "wdno_burgers.pt"
SMOKE_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "wdno_smoke.pt"
SUPERRES_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "superres_burgers.pt"
T = TypeVar("T")

STEPS_HELP = ("DDIM steps (NFE). The stored guidance strength was tuned at 25; WDNO guidance pushes once per "
              "step, so retune it (--scale) or scale it by 25 / steps for other step counts.")

pde_app = typer.Typer(help="PDE simulation, control and super-resolution with wavelet-domain diffusion (WDNO) on "
                           "1-D Burgers and 2-D smoke.",
                      no_args_is_help=True)
simulate_app = typer.Typer(help="Generate trajectories with the repo's numerical solvers.", no_args_is_help=True)
pde_app.add_typer(simulate_app, name="simulate")


NumTrajectories = Annotated[int, typer.Option(help="Number of trajectories.", min=1)]


def _solve(num: int, label: str, generate: Callable[[Callable[[int], None]], T]) -> T:
    """Run ``generate(progress)`` (a cached data generator reporting trajectories done) under a rich bar."""
    from rich.progress import Progress

    with Progress() as progress:
        task = progress.add_task(label, total=num)
        result = generate(lambda done: progress.update(task, completed=done))
        progress.update(task, completed=num)
    return result


@simulate_app.command("burgers")
def simulate_burgers(
    num: NumTrajectories = 1000,
    out: Annotated[Path, typer.Option(help="Output folder (gets burgers.npz).")] = Path("outputs/pde/data"),
    seed: Annotated[int, typer.Option(help="Random seed of u0 and f.")] = 0,
    refine: Annotated[int, typer.Option(help="Solver refinement: 121 * refine - 1 grid points.", min=1)] = 1,
) -> None:
    """Random two-bump u0 and Gaussian-bump controls f, solved to T = 8 (u [N, 81, 120], f [N, 80, 120]);
    cached, deterministic in (num, seed, refine).

    Example: genforge pde simulate burgers --num 16 --seed 1 --out data/burgers
    """
    from genforge.datasets.burgers import NU, T_END, cached_generate
    from genforge.domains.pde.io import save_npz

    data = _solve(num, "solving Burgers", lambda update: cached_generate(num, seed, refine, progress=update))
    path = save_npz(out / "burgers.npz", {**data, "nu": NU, "t_end": T_END, "seed": seed, "refine": refine})
    typer.echo(f"wrote {path} (u {list(data['u'].shape)}, f {list(data['f'].shape)})")


@simulate_app.command("burgers-grid")
def simulate_burgers_grid(
    num: NumTrajectories = 16,
    out: Annotated[Path, typer.Option(help="Output folder (gets burgers_grid.npz).")] = Path("outputs/pde/grid"),
    seed: Annotated[int, typer.Option(help="Random seed of u0 and f (same problems as `simulate burgers`).")] = 1,
    frames: Annotated[int, typer.Option(help="K: cell-centred frames (a multiple of 40).", min=40)] = 80,
    points: Annotated[int, typer.Option(help="N: cell-centred points in x.", min=4)] = 120,
    solver_points: Annotated[int, typer.Option(help="Solver vertices (+1 a multiple of 2 N).", min=3)] = 479,
    coarsen: Annotated[int, typer.Option(help="Also store the coarse grid ('coarse': 2-D block means over "
                                                "coarsen x coarsen cells, the Haar approximation band).")] = 2,
) -> None:
    """Burgers trajectories sampled at the cell centres of a K x N space-time grid ('u' [N, K, X]) and their
    coarse band ('coarse'), the input of `genforge pde superres`; cached, deterministic in the arguments.

    Example: genforge pde simulate burgers-grid --num 4 --frames 80 --points 120 --out outputs/pde/grid
    """
    from genforge.core.errors import ConfigError
    from genforge.datasets.burgers_multires import cached_generate, check_resolution
    from genforge.domains.pde.io import save_npz

    try:
        check_resolution(frames, points, solver_points)
    except ValueError as error:
        raise ConfigError(str(error), field="--frames/--points/--solver-points") from error
    if coarsen < 1 or coarsen & (coarsen - 1) or frames % coarsen or points % coarsen:
        raise ConfigError(f"must be a power of 2 dividing frames and points, got {coarsen}", field="--coarsen")
    u = _solve(num, "solving Burgers",
               lambda update: cached_generate(num, seed, frames, points, solver_points, progress=update))
    coarse = u.view(num, frames // coarsen, coarsen, points // coarsen, coarsen).mean((2, 4))
    path = save_npz(out / "burgers_grid.npz", {"u": u, "coarse": coarse, "seed": seed, "solver_points": solver_points})
    typer.echo(f"wrote {path} (u {list(u.shape)}, coarse {list(coarse.shape)})")


@simulate_app.command("smoke")
def simulate_smoke(
    num: NumTrajectories = 64,
    out: Annotated[Path, typer.Option(help="Output folder (gets smoke.npz).")] = Path("outputs/pde/smoke"),
    seed: Annotated[int, typer.Option(help="Random seed of the initial smoke and the controls.")] = 0,
    n: Annotated[int, typer.Option(help="Cells per side (exits and source scale with it).", min=16)] = 32,
    frames: Annotated[int, typer.Option(help="Frames (control intervals).", min=1)] = 32,
) -> None:
    """2-D smoke in a box with 3 exits under random forces in the outer band: density, velocity, control,
    outflow per exit and the fraction of smoke through the target (top) exit; cached, deterministic by seed.

    Example: genforge pde simulate smoke --num 8 --out outputs/pde/smoke
    """
    from genforge.datasets.smoke import cached_generate, scaled_config
    from genforge.domains.pde.io import save_npz

    cfg = scaled_config(n, frames)
    data = _solve(num, "solving smoke", lambda update: cached_generate(num, seed, cfg, progress=update))
    path = save_npz(out / "smoke.npz", {**data, "seed": seed, "n": n, "frames": frames})
    fraction = data["target_fraction"]
    typer.echo(f"wrote {path} (density {list(data['density'].shape)}; target-exit fraction mean "
               f"{float(fraction.mean()):.3f}, range {float(fraction.min()):.3f}-{float(fraction.max()):.3f})")


@pde_app.command("superres")
def superres(
    input: Annotated[Path, typer.Option("--input", help=".npz with coarse space-time fields [N, K, X].")],
    out: Annotated[Path, typer.Option(help="Output .npz ('u' [N, factor K, factor X]).")],
    factor: Annotated[int, typer.Option(help="Refinement: 2, 4 or 8 (the model applied log2(factor) times).")] = 2,
    ckpt: Annotated[Path, typer.Option(help="Super-resolution model file.")] = SUPERRES_CHECKPOINT,
    key: Annotated[str, typer.Option(help="Key of the coarse fields in --input.")] = "coarse",
    steps: Annotated[int, typer.Option(help="DDIM steps (NFE) per level.", min=1)] = 25,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Finer space-time trajectories from coarse ones (coarse = the Haar approximation band, i.e. 2-D block
    means of the finer grid) by wavelet-level diffusion; if --input also holds the fine 'u' of the output's
    grid, prints the error of the model and of bicubic interpolation against it.

    Example: genforge pde superres --input outputs/pde/grid/burgers_grid.npz --factor 2 --out outputs/pde/sr.npz
    """
    from genforge.core.errors import ConfigError
    from genforge.domains.pde.io import load_fields, save_npz
    from genforge.domains.pde.superres import interpolate, load_superres, relative_l2

    if factor not in (2, 4, 8):
        raise ConfigError(f"must be 2, 4 or 8, got {factor}", field="--factor")
    coarse = load_fields(input, key).float()
    model = load_superres(ckpt)
    fine = model.superresolve(coarse, factor, steps=steps, seed=seed)
    save_npz(out, {"u": fine, "factor": factor})
    typer.echo(f"wrote {out} (u {list(fine.shape)})")
    import numpy as np

    with np.load(input) as archive:
        reference = archive["u"] if "u" in archive.files and key != "u" else None
    if reference is not None and tuple(reference.shape[-2:]) == tuple(fine.shape[-2:]):
        import torch

        truth = torch.from_numpy(reference).float().reshape(fine.shape)
        typer.echo(f"rel. L2 vs 'u': model {relative_l2(fine, truth):.4f}, bicubic "
                   f"{relative_l2(interpolate(coarse, factor), truth):.4f}")


@pde_app.command("train")
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe, e.g. configs/pde/cpu/wdno.yaml.")],
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint.")] = False,
) -> None:
    """Train a pde.wdno, pde.physical_diffusion, pde.superres, pde.wdno_smoke or pde.physical_smoke recipe
    (same as `genforge train`).

    Example: genforge pde train --config configs/pde/cpu/wdno.yaml
    """
    from genforge.cli import train_recipe

    train_recipe(config, None, resume, domain="pde")


@pde_app.command("control")
def control(
    u0: Annotated[Path, typer.Option(help=".npz with 'u0' [N, 120] (or a trajectory file: its u[:, 0]).")],
    target: Annotated[Path, typer.Option(help=".npz with 'target' [N, 120] (or a trajectory file: u[:, -1]).")],
    out: Annotated[Path, typer.Option(help="Output folder: control.npz, control.json, control.png.")],
    ckpt: Annotated[Path, typer.Option(help="Model file.")] = CHECKPOINT,
    scale: Annotated[float, typer.Option(help="Guidance strength gamma.")] = 0.0,
    energy_weight: Annotated[float, typer.Option(help="w_f of J = MSE(u_T) + w_f sum f^2.")] = 2e-5,
    steps: Annotated[int, typer.Option(help=STEPS_HELP, min=1)] = 25,
    refine: Annotated[int, typer.Option(help="Refinement of the solver that re-simulates the controls.")] = 2,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    guidance: Annotated[str | None, typer.Option(
        help="wdno (grad of J at x0_hat, cosine-beta weight; no backward through the net) or jacobian (DPS). "
             "Default: the checkpoint's.")] = None,
    samples: Annotated[int, typer.Option(help="Draws per pair; >1 keeps the lowest coarse-solver J.", min=1)] = 1,
    plot: Annotated[bool, typer.Option(help="Write control.png (pair 0).")] = True,
) -> None:
    """Propose controls f steering u0 to the target at T = 8 by guided diffusion; re-simulate and score them.
    ``--scale 0`` uses the model's tuned guidance strength (stored with the checkpoint).

    Example: genforge pde control --u0 burgers.npz --target burgers.npz --out outputs/pde
    """
    from genforge.core.errors import ConfigError
    from genforge.domains.pde.evaluate import run_control
    from genforge.domains.pde.sampling import GUIDANCE

    if guidance is not None and guidance not in GUIDANCE:
        raise ConfigError(f"must be one of {', '.join(GUIDANCE)}, got {guidance!r}", field="--guidance")
    summary = run_control(ckpt, u0, target, out, scale=scale or None, energy_weight=energy_weight, steps=steps,
                          refine=refine, seed=seed, guidance=guidance, samples=samples, plot=plot)
    typer.echo(f"J = {summary['J_mean']:.4g} (tracking {summary['tracking_mean']:.4g}, energy "
               f"{summary['energy_mean']:.4g}) over {summary['num']} pairs; wrote {out}")


@pde_app.command("smoke-control")
def smoke_control(
    ckpt: Annotated[Path, typer.Option(help="Smoke model (pde.wdno_smoke / pde.physical_smoke).")] = SMOKE_CHECKPOINT,
    out: Annotated[Path, typer.Option(help="Output folder: smoke_control.npz / .json / .png.")] = Path(
        "outputs/pde/smoke_control"),
    rho0: Annotated[Path | None, typer.Option(help=".npz with 'rho0' [N, n, n] (or a `simulate smoke` file: its "
                                                   "density[:, 0]); default: --num held-out blobs (seed 1).")] = None,
    num: Annotated[int, typer.Option(help="Held-out blobs when no --rho0 is given.", min=1)] = 4,
    scale: Annotated[float, typer.Option(help="Guidance strength (0 = the checkpoint's tuned one).")] = 0.0,
    energy_weight: Annotated[float, typer.Option(help="w_f of J = -fraction + w_f mean f^2.")] = 1e-3,
    steps: Annotated[int, typer.Option(help=STEPS_HELP, min=1)] = 25,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    guidance: Annotated[str | None, typer.Option(help="wdno or jacobian (default: the checkpoint's).")] = None,
    samples: Annotated[int, typer.Option(help="Draws per problem; >1 keeps the lowest solver J.", min=1)] = 1,
    plot: Annotated[bool, typer.Option(help="Write smoke_control.png (problem 0).")] = True,
) -> None:
    """Band forces pushing the smoke through the target exit, by guided diffusion; every control is re-simulated
    by the smoke solver and scored next to no control.

    Example: genforge pde smoke-control --num 4 --out outputs/pde/smoke_control
    """
    from genforge.core.errors import ConfigError
    from genforge.domains.pde.sampling import GUIDANCE
    from genforge.domains.pde.smoke_evaluate import run_smoke_control

    if guidance is not None and guidance not in GUIDANCE:
        raise ConfigError(f"must be one of {', '.join(GUIDANCE)}, got {guidance!r}", field="--guidance")
    summary = run_smoke_control(ckpt, out, rho0_path=rho0, num=num, scale=scale or None, energy_weight=energy_weight,
                                steps=steps, seed=seed, guidance=guidance, samples=samples, plot=plot)
    typer.echo(f"target-exit fraction {summary['fraction_mean']:.3f} +- {summary['fraction_sem']:.3f} (no control "
               f"{summary['no_control_fraction_mean']:.3f}, model's own estimate {summary['model_fraction_mean']:.3f})"
               f", J {summary['J_mean']:.4g} over {summary['num']} problems; wrote {out}")


@pde_app.command("evaluate")
def evaluate(
    data: Annotated[Path, typer.Option(help="Held-out trajectory .npz (from `genforge pde simulate burgers`).")],
    out: Annotated[Path, typer.Option(help="Output folder: metrics.json and figures.")],
    ckpt: Annotated[Path, typer.Option(help="Model file.")] = CHECKPOINT,
    num: Annotated[int, typer.Option(help="Trajectories / (u0, target) pairs used.", min=1)] = 16,
    steps: Annotated[int, typer.Option(help=STEPS_HELP, min=1)] = 25,
    scale: Annotated[float, typer.Option(help="Guidance strength (0 = the checkpoint's).")] = 0.0,
    energy_weight: Annotated[float, typer.Option(help="w_f of J.")] = 2e-5,
    refine: Annotated[int, typer.Option(help="Refinement of the re-simulating solver.")] = 2,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    guidance: Annotated[str | None, typer.Option(help="wdno or jacobian (default: the checkpoint's).")] = None,
    samples: Annotated[int, typer.Option(help="Control draws per pair (best coarse-solver J kept).", min=1)] = 1,
) -> None:
    """Simulation error (relative L2 of u given u0, f) and control cost J (re-simulated) of a model on a
    trajectory file, next to the trivial baselines.

    Example: genforge pde evaluate --data burgers.npz --num 8 --out outputs/pde_eval
    """
    from genforge.domains.pde.evaluate import run_evaluate

    metrics = run_evaluate(ckpt, data, out, num=num, steps=steps, scale=scale or None,
                           energy_weight=energy_weight, refine=refine, seed=seed, guidance=guidance, samples=samples)
    for section, rows in metrics.items():
        for name, row in rows.items():
            typer.echo(f"{section:10s} {name:40s} " + "  ".join(f"{k}={v:.4g}" for k, v in row.items()))


def register(app: typer.Typer) -> None:
    """Add the ``pde`` group to the genforge app."""
    app.add_typer(pde_app, name="pde")
