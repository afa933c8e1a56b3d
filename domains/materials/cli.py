"""``genforge materials ...``: the sub-commands of the materials models (CrysBFN, ADiT), each in its folder."""

from __future__ import annotations

import importlib
import importlib.util

import typer

MODELS = ("crysbfn", "adit")
GENERATORS = {"materials.crysbfn_gen": "genforge.domains.materials.crysbfn.generate",
              "materials.adit": "genforge.domains.materials.adit.generate"}
"""``genforge materials generate``: checkpoint task -> module with ``generate_records(trained, num, *, steps,
seed) -> list[AtomsRecord]``."""


def register(app: typer.Typer) -> None:
    """Add ``genforge materials`` with every model's commands (``<model>/cli.py`` -> ``register(group)``)."""
    group = typer.Typer(help="Molecules and materials: crystal and molecule generation (CrysBFN, ADiT), file IO.",
                        no_args_is_help=True)
    for model in MODELS:
        name = f"genforge.domains.materials.{model}.cli"
        if importlib.util.find_spec(f"genforge.domains.materials.{model}") and importlib.util.find_spec(name):
            importlib.import_module(name).register(group)
    app.add_typer(group, name="materials")
