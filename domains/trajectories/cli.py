"""``genforge traj ...``: simulate trajectory data, train GeoTDM / baselines, forecast from a file.

Import-light: torch and the models load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal, cast

import typer

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
DEFAULT_CHECKPOINT = CHECKPOINTS / "geotdm_nbody.pt"
GENERATE_CHECKPOINT = CHECKPOINTS / "geotdm_nbody_generate.pt"

group = typer.Typer(help="Geometric trajectories: N-body / xTB MD simulation, GeoTDM forecasting and generation.",
                    no_args_is_help=True)
simulate = typer.Typer(help="Generate trajectory data (cached, deterministic by seed), written as extended XYZ.",
                       no_args_is_help=True)
group.add_typer(simulate, name="simulate")


def _write_all(out: Path, pos, species, charges) -> None:  # type: ignore[no-untyped-def]
    from genforge.domains.trajectories.io import write_extxyz

    out.mkdir(parents=True, exist_ok=True)
    for index in range(pos.shape[0]):
        write_extxyz(out / f"traj_{index:05d}.extxyz", pos[index], species,
                     None if charges is None else charges[index])


@simulate.command("nbody")
def simulate_nbody(
    num: Annotated[int, typer.Option("--num", help="Number of systems.")] = 100,
    out: Annotated[Path, typer.Option("--out", help="Folder for traj_XXXXX.extxyz files.")] = Path("nbody"),
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 43,
) -> None:
    """Charged 5-body systems (EGNN/GeoTDM setting: dt 0.001, 5000 steps, a frame every 100 steps).

    Example: genforge traj simulate nbody --num 100 --seed 7 --out data/nbody
    """
    import torch

    from genforge.datasets.nbody import load_nbody

    data = load_nbody(num, seed)
    _write_all(out, data.pos, torch.zeros(data.pos.shape[2], dtype=torch.long), data.charges)
    typer.echo(f"wrote {num} trajectories of {data.pos.shape[1]} frames to {out}")


@simulate.command("md")
def simulate_md(
    num: Annotated[int, typer.Option("--num", help="Number of independent Langevin runs.")] = 2,
    out: Annotated[Path, typer.Option("--out", help="Folder for traj_XXXXX.extxyz files.")] = Path("md"),
    molecule: Annotated[str, typer.Option(help="ethanol, malonaldehyde, aspirin or a SMILES.")] = "ethanol",
    steps: Annotated[int, typer.Option(help="Integration steps per run (0.5 fs).")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the first run (conformer and velocities).")] = 0,
    ensemble: Annotated[str, typer.Option(
        help="langevin (500 K thermostat while saving) or nve (velocity Verlet after the equilibration).")
    ] = "langevin",
    equilibration: Annotated[int, typer.Option(help="Langevin steps (0.5 fs) before the saved part.")] = 0,
) -> None:
    """xTB (GFN2, tblite) MD at 500 K from RDKit conformers, a frame every 10 steps.

    Example: genforge traj simulate md --num 2 --molecule ethanol --ensemble nve --equilibration 1000 --out data/md
    """
    from genforge.datasets.md_trajectories import MDConfig, load_md

    md = MDConfig(molecule=molecule, steps=steps, ensemble=cast(Literal["langevin", "nve"], ensemble),
                  equilibration_steps=equilibration)
    data = load_md(num, seed, md)
    _write_all(out, data.pos, data.species, None)
    typer.echo(f"wrote {num} trajectories of {data.pos.shape[1]} frames to {out}")


@group.command("train")
def train(
    config: Annotated[Path, typer.Option("--config", "-c",
                                         help="Recipe, e.g. configs/trajectories/cpu/geotdm_nbody.yaml.")],
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a field, e.g. train.steps=500.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output dir.")] = False,
) -> None:
    """Train and evaluate a trajectory model (same as `genforge train` for trajectories.* recipes).

    Example: genforge traj train --config configs/trajectories/cpu/geotdm_nbody.yaml
    """
    from genforge.cli import train_recipe

    train_recipe(config, overrides, resume)


@group.command("sample")
def sample(
    condition: Annotated[Path, typer.Option("--condition", help="Observed frames, extended XYZ.")],
    out: Annotated[Path, typer.Option("--out", help="Output extended XYZ with the K forecasts.")] = Path("traj.extxyz"),
    ckpt: Annotated[Path, typer.Option("--ckpt", help="model.pt of a run or a shipped checkpoint.")
                    ] = DEFAULT_CHECKPOINT,
    horizon: Annotated[int, typer.Option(help="Frames to forecast (at most the model's future_frames).")] = 20,
    num_samples: Annotated[int, typer.Option("--num-samples", "-k", help="Forecasts to draw.")] = 5,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    plot: Annotated[Path | None, typer.Option(help="Also write a frame-strip PNG of the forecasts.")] = None,
) -> None:
    """Forecast the frames after --condition with a trained model; K samples as extended XYZ.

    Example: genforge traj sample --condition past.extxyz -k 5 --out forecast.extxyz
    """
    import torch

    from genforge.domains.trajectories.inference import forecast_file
    from genforge.domains.trajectories.io import read_extxyz
    from genforge.domains.trajectories.tasks import load_model

    torch.set_num_threads(1)
    loaded = load_model(ckpt)
    samples = forecast_file(loaded, condition, horizon, num_samples, seed, out)
    typer.echo(f"wrote {samples.shape[0]} forecasts of {samples.shape[1]} frames to {out}")
    if plot is not None:
        from genforge.domains.trajectories.plots import save_forecast_strip

        save_forecast_strip(read_extxyz(condition).pos[-loaded.cfg.cond_frames:], samples, plot)
        typer.echo(f"wrote {plot}")


@group.command("generate")
def generate(
    ckpt: Annotated[Path, typer.Option("--ckpt", help="model.pt of an unconditional (mode: generate) run.")
                    ] = GENERATE_CHECKPOINT,
    out: Annotated[Path, typer.Option("--out", help="Output extended XYZ (trajectories tagged sample=k).")
                   ] = Path("generated.extxyz"),
    num: Annotated[int, typer.Option("--num", help="Trajectories to generate.")] = 4,
    charges: Annotated[str, typer.Option(help="Comma-separated particle charges (N-body models).")
                       ] = "1,-1,1,-1,1",
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Generate whole trajectories with an unconditional model (CoM-free, DDPM ancestral sampling).

    Example: genforge traj generate --ckpt runs/geotdm_uncond/last.pt --num 4 --out outputs/traj_gen
    """
    import torch

    from genforge.core.errors import DataError
    from genforge.core.processes import CoMFreeGaussian
    from genforge.domains.trajectories.diffusion import sample_trajectories
    from genforge.domains.trajectories.io import write_extxyz
    from genforge.domains.trajectories.tasks import PROCESS, load_model, node_features

    loaded = load_model(ckpt)
    if loaded.cfg.mode != "generate":
        raise DataError("is a forecasting checkpoint; use `genforge traj sample`", source=ckpt, field="mode")
    try:
        q = torch.tensor([float(c) for c in charges.split(",")])
    except ValueError as err:
        raise DataError(f"expected comma-separated numbers, got {charges!r}", field="--charges") from err
    if loaded.cfg.dataset == "nbody" and q.numel() != loaded.species.numel():
        raise DataError(f"{q.numel()} charges for a model of {loaded.species.numel()} particles", field="--charges")
    if loaded.cfg.dataset != "nbody":
        q = torch.zeros(loaded.species.numel())
    features = node_features(loaded.cfg, loaded.species, q)[None].expand(num, -1, -1)
    traj = sample_trajectories(loaded.model, CoMFreeGaussian(PROCESS), features, loaded.cfg.future_frames,
                               steps=loaded.cfg.sample_steps, seed=seed)
    write_extxyz(out, traj, loaded.species, q if loaded.cfg.dataset == "nbody" else None, info={"model": loaded.kind})
    typer.echo(f"wrote {num} trajectories of {traj.shape[1]} frames to {out}")


def register(app: typer.Typer) -> None:
    """Add ``genforge traj``."""
    app.add_typer(group, name="traj")
