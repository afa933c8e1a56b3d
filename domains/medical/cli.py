"""``genforge medical ...``: simulate CT / MRI measurements of a volume, reconstruct them, evaluate the result.

Imports of torch and the models happen inside the commands so that ``genforge --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

METHOD_HELP = "fbp | admm-tv | mbir | mbir-fast | slice2d | dps | reddiff | smc"


def simulate(
    volume: Annotated[Path, typer.Option(help="NIfTI file, DICOM series folder or .npy [D, H, W].")],
    out: Annotated[Path, typer.Option(help="Measurement file to write (.npz).")],
    modality: Annotated[str, typer.Option(help="ct or mri.")] = "ct",
    views: Annotated[int, typer.Option(help="CT: views over 180 degrees.")] = 8,
    wedge: Annotated[float | None, typer.Option(help="CT: limited-angle wedge in degrees (1-degree steps).")] = None,
    acceleration: Annotated[int, typer.Option(help="MRI: undersampling factor.")] = 4,
    mask: Annotated[str, typer.Option(help="MRI: uniform or gaussian line mask.")] = "uniform",
    size: Annotated[int, typer.Option(help="Volumes are resampled to size^3 (centre crop in-plane).")] = 64,
    noise: Annotated[float, typer.Option(help="Gaussian noise std added to the measurements.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of noise and random masks.")] = 0,
) -> None:
    """Simulate a measurement of a volume; the .npz records the geometry for `reconstruct`.

    Example: genforge medical simulate --volume head.nii.gz --views 8 --out ct8.npz
    """
    from genforge.domains.medical.pipeline import simulate as run

    _, operator = run(volume, out, modality, size=size, noise=noise, seed=seed, views=views, wedge=wedge,
                      acceleration=acceleration, mask=mask)
    typer.echo(f"wrote {out}: {modality}, {size}^3, {operator.geometry()}"[:200])


def reconstruct(
    measurement: Annotated[Path, typer.Option(help="Measurement .npz from `simulate`.")],
    method: Annotated[str, typer.Option(help=METHOD_HELP)],
    out: Annotated[Path, typer.Option(help="Reconstruction to write (.nii / .nii.gz).")],
    ckpt: Annotated[Path | None, typer.Option(help="Slice prior checkpoint (default: the shipped one).")] = None,
    png: Annotated[Path | None, typer.Option(help="Also write orthogonal slices as PNG.")] = None,
    steps: Annotated[int | None, typer.Option(help="Override the method's step count.")] = None,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Reconstruct a volume from a measurement with one method.

    Example: genforge medical reconstruct --measurement ct8.npz --method mbir-fast --out recon.nii.gz --png recon.png
    """
    from dataclasses import replace

    from genforge.domains.medical.pipeline import load_measurement, write_volume
    from genforge.domains.medical.plots import save_orthogonal_slices
    from genforge.domains.medical.prior import DEFAULT_CHECKPOINT, load_prior
    from genforge.domains.medical.reconstruct import PRIOR_METHODS, MethodOptions, check_method
    from genforge.domains.medical.reconstruct import reconstruct as run

    check_method(method)
    if not out.name.endswith((".nii", ".nii.gz")):
        from genforge.core.errors import DataError

        raise DataError("the output must end in .nii or .nii.gz", source=out)
    data = load_measurement(measurement)
    prior = load_prior(ckpt or DEFAULT_CHECKPOINT) if method in PRIOR_METHODS else None
    options = MethodOptions()
    if steps is not None:
        field = {"mbir": "mbir_steps", "mbir-fast": "fast_steps", "slice2d": "fast_steps", "dps": "dps_steps",
                 "reddiff": "reddiff_steps", "smc": "smc_steps", "admm-tv": "tv_iterations"}.get(method)
        options = replace(options, **{field: steps}) if field else options
    result = run(data.y, data.operator, prior, method, options=options, seed=seed)
    write_volume(result.volume, data, out)
    if png is not None:
        panels = {method: result.volume}
        if result.std is not None:
            panels["std x4"] = (4.0 * result.std).clamp(0.0, 1.0)
        save_orthogonal_slices(panels, png)
    typer.echo(f"wrote {out} ({method}, {result.nfe} NFE, {result.seconds:.1f} s)")


def evaluate(
    recon: Annotated[Path, typer.Option(help="Reconstruction (NIfTI / .npy / DICOM folder).")],
    reference: Annotated[Path, typer.Option(help="Ground-truth volume (resampled to the recon's cube if needed).")],
    window: Annotated[str, typer.Option(help="LOW,HIGH mapped to [0, 1], or auto.")] = "auto",
) -> None:
    """PSNR / SSIM of a reconstruction per axis and over the volume (values windowed to [0, 1]).

    Example: genforge medical evaluate --recon recon.nii.gz --reference head.nii.gz
    """
    from genforge.domains.medical.metrics import volume_scores
    from genforge.domains.medical.pipeline import evaluation_pair

    scores = volume_scores(*evaluation_pair(recon, reference, window))
    for name, value in scores.items():
        typer.echo(f"{name:16s} {value:8.4f}")


def register(app: typer.Typer) -> None:
    """Add the ``medical`` group."""
    group = typer.Typer(help="Medical 3-D inverse problems: sparse-view / limited-angle CT and CS-MRI with "
                             "2-D diffusion priors (DiffusionMBIR, DDS, DPS, RED-diff, SMC).", no_args_is_help=True)
    group.command()(simulate)
    group.command()(reconstruct)
    group.command()(evaluate)
    app.add_typer(group, name="medical")
