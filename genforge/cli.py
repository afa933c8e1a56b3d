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
    """Print the genforge version.

    Example: genforge version
    """
    typer.echo(genforge.__version__)


@app.command()
def train(
    config: Annotated[Path, typer.Option("--config", "-c", help="Recipe YAML, e.g. configs/toy2d/cpu.yaml.")],
    overrides: Annotated[list[str] | None, typer.Option(
        "--set", help="Override a config field, e.g. --set train.steps=500 (repeatable).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the latest checkpoint in the output dir.")] = False,
) -> None:
    """Train the model a recipe describes (its `task:` key picks the domain task).

    Example: genforge train --config configs/toy2d/demo.yaml --set train.steps=500
    """
    train_recipe(config, overrides, resume)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="A run folder (training out_dir or sampling output).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="HTML file (default RUN_DIR/report.html).")] = None,
) -> None:
    """Write one self-contained HTML page for a run: recipe, metrics tables, loss curves, image galleries.

    Example: genforge report outputs/demo
    """
    from genforge.core.report import build_report

    typer.echo(f"wrote {build_report(run_dir, out)}")


@app.command()
def doctor() -> None:
    """Show library versions, CUDA and the backends genforge will use, and the extra that installs what is missing.

    Example: genforge doctor
    """
    from rich.table import Table

    from genforge.doctor import backends, package_statuses

    table = Table(title=f"genforge {genforge.__version__}: libraries")
    for column in ("library", "version", "extra", "used for"):
        table.add_column(column)
    missing = set()
    for row in package_statuses():
        table.add_row(row.name, row.version or "[red]missing[/]", row.extra, row.purpose)
        if row.version is None:
            missing.add(row.extra)
    out = Console()
    out.print(table)
    backend_table = Table(title="devices and backends")
    backend_table.add_column("component")
    backend_table.add_column("active")
    for name, value in backends().items():
        backend_table.add_row(name, value)
    out.print(backend_table)
    for extra in sorted(missing):
        hint = "pip install torch==2.13.0 first" if extra == "core" else \
            f"pip install -c .ci/constraints.txt -e '.[{extra}]'"
        out.print(f"missing libraries of [bold]{extra}[/]: {hint}")


@app.command()
def sample(
    ckpt: Annotated[Path, typer.Option("--ckpt", help="A training checkpoint (last.pt) or a shipped one.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the samples (created).")],
    num: Annotated[int, typer.Option(min=1, help="Number of samples.")] = 1000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    steps: Annotated[int | None, typer.Option(min=1, help="Solver steps (default: the recipe's).")] = None,
    chunk: Annotated[int, typer.Option(min=1, help="Samples drawn at once; memory stays bounded by one chunk, "
                                       "results are streamed to disk.")] = 100_000,
) -> None:
    """Draw samples from any trained checkpoint with its recipe's sampler (the task is read from the file).

    Example: genforge sample --ckpt runs/toy2d/last.pt --num 2000 --out outputs/toy_samples
    """
    from genforge.core.config import task_sampler
    from genforge.core.train.inference import load_trained

    trained = load_trained(ckpt)
    import_task_module(trained.task)
    for path in task_sampler(trained.task, str(ckpt))(trained, num=num, seed=seed, out=out, steps=steps,
                                                              chunk=chunk):
        typer.echo(f"wrote {path}")


@app.command()
def export(
    ckpt: Annotated[Path, typer.Option("--ckpt", help="A training checkpoint, e.g. runs/x/last.pt.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="The slim checkpoint to write (.pt).")],
    metrics: Annotated[Path | None, typer.Option(help="metrics.json to store beside the weights.")] = None,
) -> None:
    """Write a slim inference checkpoint (EMA weights + recipe + metrics, no optimizer state) for shipping.

    Example: genforge export --ckpt runs/toy2d/last.pt --metrics runs/toy2d/metrics.json --out toy.pt
    """
    import json

    from genforge.core.errors import DataError
    from genforge.core.train.inference import export_inference, load_trained

    values = None
    if metrics is not None:
        try:
            values = json.loads(metrics.read_text())
        except (OSError, ValueError) as err:
            raise DataError(f"cannot read metrics JSON: {err}", source=metrics) from err
    typer.echo(f"wrote {export_inference(load_trained(ckpt), out, values)}")


def train_recipe(config: Path, overrides: list[str] | None, resume: bool, *, domain: str | None = None) -> None:
    """What `genforge train` and the `genforge <domain> train` commands run: import the recipe's task module,
    load the recipe, apply ``--set`` overrides and train. With ``domain``, a recipe whose task is not
    ``<domain>.*`` is one ConfigError naming the file."""
    from genforge.core.config import load_task_config, override, read_yaml
    from genforge.core.errors import ConfigError
    from genforge.core.train.distributed import cleanup

    import_task_module(read_yaml(config).get("task"))
    name, cfg, run = load_task_config(config)
    if domain is not None and not name.startswith(f"{domain}."):
        raise ConfigError(f"task {name!r} is not a {domain}.* task (use `genforge train` for other tasks)",
                          source=config, field="task")
    finished = False
    try:
        run(override(cfg, overrides or []), resume=resume)
        finished = True
    finally:
        cleanup(wait=finished)  # under torchrun: every rank leaves the process group together


def import_task_module(name: object) -> None:
    """Import the domain module that registers task ``name`` (``materials.crysbfn`` imports
    ``genforge.domains.materials.tasks``), so heavy domains load only when one of their tasks runs."""
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
