"""``genforge ts``: train the TS flow models and generate transition states from reactant + product files."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

ts_app = typer.Typer(help="Transition states: generate a reaction's TS from its reactant and product "
                          "(TS-GEN / React-OT-style flow matching on RDB7).", no_args_is_help=True)


class ModelName(str, Enum):
    tsgen = "tsgen"
    reactot = "reactot"


@ts_app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe, e.g. configs/transition_states/cpu/"
                                                                "reactot.yaml.")],
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config field, e.g. --set train.steps=500 (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output dir.")] = False,
) -> None:
    """Train a TS flow model (recipe task transition_states.tsgen or transition_states.reactot).

    Example: genforge ts train --config configs/transition_states/cpu/tsgen.yaml
    """
    from genforge.cli import train_recipe

    train_recipe(config, overrides, resume, domain="transition_states")


@ts_app.command()
def generate(
    reactant: Annotated[Path, typer.Option("--reactant", "-r", help="Reactant XYZ / extXYZ (one frame per "
                                                                    "reaction).")],
    product: Annotated[Path, typer.Option("--product", "-p", help="Product XYZ / extXYZ, same atoms in the "
                                                                  "same order.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output extXYZ, one TS frame per reaction.")],
    model: Annotated[ModelName, typer.Option(help="Shipped model to use (default: the better one on the "
                                                  "validation table, React-OT-style).")] = ModelName.reactot,
    checkpoint: Annotated[Path | None, typer.Option(help="Model file instead of the shipped "
                                                         "checkpoints/<model>_rdb7.pt.")] = None,
    steps: Annotated[int | None, typer.Option(min=1, help="ODE steps (default: the model's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the tsgen noise.")] = 0,
    energy: Annotated[bool, typer.Option(help="Add the GFN2-xTB energy (eV) of each TS to its frame.")] = False,
    refine: Annotated[bool, typer.Option(help="Refine each TS to a GFN2-xTB first-order saddle with Sella, "
                                              "retrying after a relaxation with the changing bonds fixed when "
                                              "the saddle's mode does not match the reaction (implies "
                                              "--energy).")] = False,
    charge: Annotated[int, typer.Option(help="Total charge for --energy.")] = 0,
    multiplicity: Annotated[int, typer.Option(min=1, help="Spin multiplicity for --energy.")] = 1,
) -> None:
    """Generate the TS of each reactant/product frame pair and write them to --out.

    One pair: any problem (different atom counts or element order, unknown element, malformed file) is one
    error and nothing is written. Several pairs (batch mode): bad pairs are reported and skipped.

    Example: genforge ts generate --reactant r.xyz --product p.xyz --out ts.xyz
    """
    from genforge.core.errors import DataError
    from genforge.domains.transition_states.checkpoints import default_checkpoint, load_packaged
    from genforge.domains.transition_states.generation import generate_pairs
    from genforge.domains.transition_states.io import ReactionPair, read_pairs, write_transition_states

    package = load_packaged(checkpoint if checkpoint is not None else default_checkpoint(model.value))
    results = read_pairs(reactant, product, elements=package.elements)
    errors = [item for item in results if isinstance(item, DataError)]
    pairs = [item for item in results if isinstance(item, ReactionPair)]
    if len(results) == 1 and errors:
        raise errors[0]
    for error in errors:
        typer.echo(f"skipped: {error}", err=True)
    if not pairs:
        raise DataError(f"none of the {len(results)} reactions could be used (see the messages above)",
                        source=reactant)
    positions = generate_pairs(package, pairs, steps=steps, seed=seed)
    energies: list[float | None] = [None] * len(pairs)
    if refine:
        positions, energies = _refine(pairs, positions, charge=charge, multiplicity=multiplicity)
    elif energy:
        from genforge.domains.transition_states.oracle import XtbError, XtbOracle

        oracle = XtbOracle()
        for index, (pair, pos) in enumerate(zip(pairs, positions, strict=True)):
            try:
                energies[index] = oracle.single_point(pair.species, pos, charge=charge,
                                                      multiplicity=multiplicity).energy
            except XtbError as error:
                typer.echo(f"no energy for TS {index + 1} ({pair.name}): {error}", err=True)
    write_transition_states(out, pairs, positions, energies)
    typer.echo(f"wrote {len(pairs)} TS(s) with {package.variant} to {out}"
               + (f" ({len(errors)} skipped)" if errors else ""))


def _refine(pairs: list, positions: list, *, charge: int, multiplicity: int) -> tuple[list, list[float | None]]:
    """The refinement pipeline of every TS (saddle_choice.refine_pipeline): Sella from the generated TS; where
    that gives no first-order saddle whose imaginary mode matches the reaction, Sella again after relaxing the
    TS with its changing bonds fixed. Without any first-order saddle the generated TS is kept, without energy."""
    from genforge.domains.transition_states.oracle import XtbOracle
    from genforge.domains.transition_states.saddle_choice import PIPELINE_STARTS, refine_pipeline

    oracle = XtbOracle()
    refined_positions, energies = [], []
    for index, pair in enumerate(pairs):
        search = refine_pipeline(pair.species, positions[index], pair.reactant, pair.product, oracle,
                                 charge=charge, multiplicity=multiplicity)
        refined_positions.append(search.positions)
        energies.append(search.chosen.energy if search.chosen is not None else None)
        steps = " + ".join(str(max(result.steps, 0)) for result in search.tried)
        status = (f"first-order saddle from the {PIPELINE_STARTS[search.guess_index]}" if search.chosen is not None
                  else "no first-order saddle; generated TS kept")
        label = f"TS {index + 1}" + (f" ({pair.name})" if pair.name else "")
        typer.echo(f"{label}: {status} after {steps} Sella steps", err=True)
    return refined_positions, energies


def register(app: typer.Typer) -> None:
    """Add the ``ts`` group to the genforge app."""
    app.add_typer(ts_app, name="ts")
