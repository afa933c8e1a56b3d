"""The ``genforge`` command line: engine-level commands plus one sub-command group per domain.

User errors (:class:`GenforgeError`) print one line and exit with code 2; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

import genforge
from genforge.core.errors import GenforgeError

app = typer.Typer(
    name="genforge",
    help="genforge: diffusion / flow generative models for molecules, materials, transition states, "
    "trajectories, PDEs, Gaussian-splat 3D and medical imaging, on one engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console(stderr=True)
_state = {"debug": False}


@app.callback()
def _root(debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False
          ) -> None:
    _state["debug"] = debug


@app.command()
def version() -> None:
    """Print the genforge version."""
    typer.echo(genforge.__version__)


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML, e.g. configs/toy2d/cpu.yaml.")],
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config field, e.g. --set train.steps=500 (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output dir.")] = False,
) -> None:
    """Train the model a recipe describes (its `task:` key picks the domain task)."""
    from genforge.core.config import load_task_config, override

    import_task_module(config)
    _, cfg, run = load_task_config(config)
    run(override(cfg, overrides or []), resume=resume)


def import_task_module(recipe: Path) -> None:
    """Import the domain module that registers the recipe's task (``task: materials.crysbfn`` imports
    ``genforge.domains.materials.tasks``), so heavy domains load only when one of their recipes runs."""
    from genforge.core.config import read_yaml

    name = read_yaml(recipe).get("task")
    if not isinstance(name, str):
        return  # load_task_config reports the missing / malformed key with file and field
    domain = name.split(".")[0]
    for module in ("tasks", "task"):
        if importlib.util.find_spec(f"genforge.domains.{domain}") and importlib.util.find_spec(
                f"genforge.domains.{domain}.{module}"):
            importlib.import_module(f"genforge.domains.{domain}.{module}")


def _register_domains() -> None:
    """Every ``genforge.domains.<d>.cli`` module adds its commands (``register(app)``), in name order."""
    import genforge.domains as domains

    for info in sorted(pkgutil.iter_modules(domains.__path__), key=lambda m: m.name):
        if info.ispkg and importlib.util.find_spec(f"genforge.domains.{info.name}.cli") is not None:
            importlib.import_module(f"genforge.domains.{info.name}.cli").register(app)


_register_domains()


def main() -> None:
    """Console-script entry: run the app, turning user errors into one line and exit code 2."""
    debug = "--debug" in sys.argv
    try:
        app(standalone_mode=False)
    except GenforgeError as err:
        if debug:
            raise
        console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        console.print("aborted")
        sys.exit(130)
    except typer.Exit as exit_:
        sys.exit(exit_.exit_code)
    except Exception as err:  # click usage errors arrive as ClickException
        import click

        if isinstance(err, click.ClickException):
            err.show()
            sys.exit(2)
        raise
