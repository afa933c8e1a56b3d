"""Tiny end-to-end runs: train -> sample -> evaluate on synthetic perovskites, then the CLI on the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from materials_crysbfn_fixtures import write_perovskite_csv
from typer.testing import CliRunner

from genforge.cli import app
from genforge.core.config import load_task_config, override
from genforge.core.train.inference import export_inference, load_trained
from genforge.domains.materials.crysbfn.task import (
    Processes,
    build_model,
    crysbfn_loss,
    diffcsp_loss,
    held_out_split,
    lattice_statistics,
    load_split,
    load_trained_model,
)

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "materials" / "tiny"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crystals")
    write_perovskite_csv(root / "syn", 90, seed=0)
    return root


def _config(name: str, data_root: Path, out: Path):
    _, cfg, run = load_task_config(CONFIGS / f"{name}.yaml")
    return override(cfg, [f"data_root={data_root}", "dataset=syn", f"train.out_dir={out}", "max_eval=9"]), run


def _held_out_loss(model: torch.nn.Module, name: str, cfg) -> float:
    """Mean held-out loss over 8 fixed time / noise draws (seeded), the same for every model."""
    held_out = held_out_split(cfg)
    batch = held_out.batch(torch.arange(len(held_out)))
    loss = crysbfn_loss if name == "crysbfn" else diffcsp_loss
    generator = torch.Generator().manual_seed(123)
    with torch.no_grad():
        return sum(float(loss(model, batch, generator, Processes.of(cfg), cfg.lattice_weight)[0])
                   for _ in range(8)) / 8


@pytest.mark.parametrize("name", ["crysbfn", "diffcsp"])
def test_tiny_train_sample_evaluate(name: str, data_root: Path, tmp_path: Path) -> None:
    """The recipe trains, samples one structure per held-out composition and writes the CSP table; the trained
    network's held-out loss is well below the same network's before training."""
    torch.set_num_threads(1)
    cfg, run = _config(name, data_root, tmp_path / name)
    rows = run(cfg)
    metrics = json.loads((tmp_path / name / "metrics.json").read_text())
    learned = metrics["csp"][f"{name} ({cfg.sample_steps} steps)"]
    assert metrics["held_out"] == 9 and learned["num"] == 9.0 and 0.0 <= learned["match_rate"] <= 1.0
    assert metrics["csp"]["baseline: template substitution"]["match_rate"] == 1.0  # every ABX3 has a template
    assert rows[f"{name} ({cfg.sample_steps} steps)"]["match_rate"] == learned["match_rate"]
    assert learned["nfe"] == (cfg.sample_steps + 1 if name == "crysbfn" else 2 * cfg.sample_steps)
    trained, kind, _ = load_trained_model(load_trained(tmp_path / name / "last.pt"))
    assert kind == name
    untrained = build_model(cfg, *lattice_statistics(load_split(cfg, "train")))
    assert _held_out_loss(trained, name, cfg) < 0.85 * _held_out_loss(untrained, name, cfg)


def test_cli_csp_and_evaluate_on_a_shipped_style_checkpoint(data_root: Path, tmp_path: Path) -> None:
    cfg, run = _config("crysbfn", data_root, tmp_path / "run")
    run(override(cfg, ["train.steps=20", "sample_steps=5", "max_eval=2"]))
    slim = export_inference(load_trained(tmp_path / "run" / "last.pt"), tmp_path / "crysbfn_syn.pt", {"csp": 0.0})
    _, kind, loaded = load_trained_model(load_trained(slim))
    assert kind == "crysbfn" and loaded.net.hidden == 32
    runner = CliRunner()
    result = runner.invoke(app, ["materials", "csp", "--composition", "SrTiO3", "--num", "3", "--out",
                                 str(tmp_path / "cifs"), "--ckpt", str(slim), "--steps", "5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "cifs").glob("*.cif")) == [f"SrTiO3_{i}.cif" for i in range(3)]
    result = runner.invoke(app, ["materials", "evaluate", "--samples", str(tmp_path / "cifs"), "--reference",
                                 str(data_root / "syn" / "val.csv")])
    assert result.exit_code == 0, result.output
    written = json.loads((tmp_path / "cifs" / "metrics.json").read_text())
    assert 0.0 <= written["struct_valid"] <= 1.0 and written["comp_valid"] == 1.0
    bad = runner.invoke(app, ["materials", "csp", "--composition", "Xx2", "--out", str(tmp_path / "bad"),
                              "--ckpt", str(slim)])
    assert bad.exit_code != 0
