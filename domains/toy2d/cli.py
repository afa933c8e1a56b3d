"""``genforge demo``: the engine's end-to-end job on a 2-D toy distribution."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from genforge.core.config import load_task_config
from genforge.domains.toy2d.task import Toy2dConfig, run_toy2d

DEMO_RECIPE = Path(__file__).resolve().parents[2] / "configs" / "toy2d" / "demo.yaml"


def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for checkpoints, metrics.json, samples.png.")
                   ] = Path("outputs/demo"),
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the recipe's).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Train a flow-matching model on the 2-D checkerboard (about a minute on 2 CPU cores), sample it with
    Heun, and compare against held-out data and trivial baselines (configs/toy2d/demo.yaml).

    Example: genforge demo --out outputs/demo
    """
    _, cfg, _ = load_task_config(DEMO_RECIPE)
    assert isinstance(cfg, Toy2dConfig)
    train = replace(cfg.train, out_dir=out, seed=seed, steps=steps if steps is not None else cfg.train.steps)
    run_toy2d(replace(cfg, train=train))
    typer.echo(f"wrote {out / 'metrics.json'} and {out / 'samples.png'}")


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the genforge app."""
    app.command(name="demo")(demo)
