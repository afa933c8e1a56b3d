"""``genforge materials csp`` (CrysBFN structure prediction for a composition) and ``genforge materials evaluate``
(crystal metrics of a folder of CIFs against a reference CSV). Heavy imports live inside the commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

CHECKPOINTS = Path(__file__).resolve().parents[1] / "checkpoints"
DEFAULT_CKPT = CHECKPOINTS / "crysbfn_perov_5.pt"
DEFAULT_GEN_CKPT = CHECKPOINTS / "crysbfn_gen_perov_5.pt"
FORMATS = ("cif", "xyz", "sdf")


def csp(
    composition: Annotated[str, typer.Option(help="Formula of the cell to predict, e.g. SrTiO3 (one formula unit "
                                                  "unless --formula-units).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the CIF files (created).")],
    num: Annotated[int, typer.Option(min=1, help="Structures to sample.")] = 5,
    formula_units: Annotated[int, typer.Option(min=1, help="Formula units in the cell.")] = 1,
    ckpt: Annotated[Path, typer.Option(help="A materials.crysbfn / materials.diffcsp checkpoint.")] = DEFAULT_CKPT,
    steps: Annotated[int | None, typer.Option(min=1, help="Sampling steps (default: the recipe's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Predict crystal structures for a composition; writes <formula>_<i>.cif files.

    Example: genforge materials csp --composition SrTiO3 --num 5 --out outputs/srtio3
    """
    import torch

    from genforge.core.errors import DataError
    from genforge.core.train.inference import load_trained
    from genforge.datasets.batch import AtomsRecord
    from genforge.domains.materials.crysbfn.task import load_trained_model, predict_structures
    from genforge.domains.materials.io import write_cif

    species = _species(composition, formula_units)
    model, kind, cfg = load_trained_model(load_trained(ckpt))
    counts = torch.full((num,), len(species), dtype=torch.long)
    frac, cell = predict_structures(model, kind, cfg, torch.tensor(species * num), counts,
                                    steps or cfg.sample_steps, seed)
    if not torch.isfinite(frac).all() or not torch.isfinite(cell).all():
        raise DataError("the model produced non-finite coordinates; try more --steps", source=ckpt)
    out.mkdir(parents=True, exist_ok=True)
    stem = composition.replace(" ", "")
    for index, (f, c) in enumerate(zip(frac.split(len(species)), cell.unbind(0), strict=True)):
        record = AtomsRecord(species=torch.tensor(species), pos=f.double() @ c.double(), frac=f.double(),
                             cell=c.double(), name=f"{stem}_{index}")
        path = out / f"{stem}_{index}.cif"
        write_cif(path, record)
        typer.echo(f"wrote {path}")


def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the structure files (created).")],
    num: Annotated[int, typer.Option(min=1, help="Structures to generate.")] = 16,
    ckpt: Annotated[Path, typer.Option(help="A de novo checkpoint (materials.crysbfn_gen, ...).")] = DEFAULT_GEN_CKPT,
    fmt: Annotated[str, typer.Option("--format", help="cif, xyz (extended, one file) or sdf (molecules).")] = "cif",
    kind: Annotated[str | None, typer.Option(help="crystal or molecule, for models that generate both.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="Sampling steps (default: the recipe's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    gallery: Annotated[bool, typer.Option("--gallery", help="Also write gallery.png (first 16 structures).")]
    = False,
) -> None:
    """Generate structures de novo; writes <name>.cif files (or one samples.xyz / samples.sdf).

    Example: genforge materials generate --num 16 --out outputs/gen --gallery
    """
    import importlib

    from genforge.core.errors import ConfigError
    from genforge.core.train.inference import load_trained
    from genforge.domains.materials.cli import GENERATORS
    from genforge.domains.materials.io import write_cif, write_sdf, write_xyz

    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {FORMATS}, got {fmt!r}", field="--format")
    trained = load_trained(ckpt)
    if trained.task not in GENERATORS:
        raise ConfigError(f"checkpoint task {trained.task!r} cannot generate de novo; expected one of "
                          f"{sorted(GENERATORS)}", source=ckpt, field="--ckpt")
    module = importlib.import_module(GENERATORS[trained.task])
    options = {} if kind is None else {"kind": kind}
    records = module.generate_records(trained, num, steps=steps, seed=seed, **options)
    periodic = all(record.cell is not None for record in records)
    if (fmt == "cif" and not periodic) or (fmt == "sdf" and periodic):
        raise ConfigError(f"--format {fmt} does not fit {'crystals' if periodic else 'molecules'}", field="--format")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "cif":
        for record in records:
            write_cif(out / f"{record.name}.cif", record)
    else:
        (write_xyz if fmt == "xyz" else write_sdf)(out / f"samples.{fmt}", records)
    typer.echo(f"wrote {len(records)} structures to {out}")
    if gallery:
        from genforge.domains.materials.crysbfn.gallery import write_gallery

        typer.echo(f"wrote {write_gallery(records, out / 'gallery.png')}")


def evaluate(
    samples: Annotated[Path, typer.Option(help="A CIF file or a folder of CIF files (read recursively).")],
    reference: Annotated[Path, typer.Option(help="Reference crystals, a CDVAE-format CSV (column 'cif').")],
    out: Annotated[Path | None, typer.Option(help="Metrics JSON (default: <samples>/metrics.json).")] = None,
    dataset: Annotated[str | None, typer.Option(help="COV cutoffs of this dataset (default: the CSV's folder "
                                                     "name if known: perov_5, carbon_24, mp_20).")] = None,
    csp_pairs: Annotated[bool, typer.Option("--csp", help="Also CSP match rate / RMSE: each CIF block is paired "
                                                          "with the reference row whose material_id is its name.")]
    = False,
    cov: Annotated[bool, typer.Option(help="COV-R / COV-P (needs matminer; CrystalNN fingerprints of every "
                                           "reference take minutes for thousands of rows).")] = True,
) -> None:
    """Crystal metrics of generated structures: validity, density / #elements W1, uniqueness, COV (with
    matminer), and with --csp the match rate and RMSE; prints a table and writes JSON.

    Example: genforge materials evaluate --samples outputs/srtio3 --reference data/perov_5/val.csv
    """
    import warnings

    from rich.console import Console
    from rich.table import Table

    from genforge.core.atomic import write_json
    from genforge.core.errors import DataError
    from genforge.datasets.crystals import read_crystal_csv
    from genforge.domains.materials.crysbfn.task import crystals_of
    from genforge.domains.materials.io import read_structures
    from genforge.domains.materials.metrics import COV_CUTOFFS, Crystal, csp_metrics, generation_metrics

    files = sorted(samples.rglob("*.cif")) if samples.is_dir() else [samples]
    records = [record for path in files for record in read_structures(path)]
    if not records:
        raise DataError("no CIF structure found", source=samples)
    generated = [Crystal.from_arrays(r.species.tolist(), r.frac.numpy(), r.cell.numpy()) for r in records]
    ref = read_crystal_csv(reference, cache=False, workers=1)
    references = crystals_of(ref.species, ref.frac, ref.cell, ref.num_atoms)
    dataset = dataset or (reference.parent.name if reference.parent.name in COV_CUTOFFS else None)
    with warnings.catch_warnings():  # pymatgen / matminer warn on every site without oxidation states
        warnings.simplefilter("ignore")
        metrics = generation_metrics(generated, references, dataset=dataset if cov and _has_matminer() else None)
    if csp_pairs:
        rows = {name: i for i, name in enumerate(ref.names)}
        missing = [r.name for r in records if r.name not in rows]
        if missing:
            raise DataError(f"{len(missing)} structure name(s) are not material_ids of the reference, "
                            f"e.g. {missing[0]!r}", source=samples, field="--csp")
        metrics.update(csp_metrics(generated, [references[rows[r.name]] for r in records]))
    table = Table(title=f"{len(generated)} structures vs {reference.name}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)
    path = out or (samples if samples.is_dir() else samples.parent) / "metrics.json"
    write_json(metrics, path)
    typer.echo(f"wrote {path}")


def _has_matminer() -> bool:
    import importlib.util

    return importlib.util.find_spec("matminer") is not None


def _species(composition: str, formula_units: int) -> list[int]:
    """Atomic numbers of ``formula_units`` x the formula, grouped by element (pymatgen order)."""
    import torch
    from pymatgen.core import Composition

    from genforge.core.errors import DataError

    try:
        parsed = Composition(composition)
    except (ValueError, KeyError) as err:
        raise DataError(f"cannot parse the formula {composition!r}: {err}", field="--composition") from None
    amounts = {element.Z: amount * formula_units for element, amount in parsed.items()}
    if not amounts or any(abs(a - round(a)) > 1e-6 or a < 1 for a in amounts.values()):
        raise DataError(f"{composition!r} x {formula_units} needs whole, positive atom counts",
                        field="--composition")
    return torch.repeat_interleave(torch.tensor(list(amounts)),
                                   torch.tensor([round(a) for a in amounts.values()])).tolist()


def register(group: typer.Typer) -> None:
    """Add ``csp``, ``generate`` and ``evaluate`` to the ``genforge materials`` group."""
    group.command("csp")(csp)
    group.command("generate")(generate)
    group.command("evaluate")(evaluate)
