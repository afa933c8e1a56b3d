"""De novo CrysBFN: a tiny train -> generate -> evaluate run on synthetic perovskites, and the CLI on its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from materials_crysbfn_fixtures import write_perovskite_csv
from typer.testing import CliRunner

from genforge.cli import app
from genforge.core.config import load_task_config, override
from genforge.core.train.inference import load_trained
from genforge.datasets.crystals import load_crystals
from genforge.domains.materials.crysbfn.gen_task import (
    atom_count_probabilities,
    build_model,
    generate_crystals,
    load_trained_gen_model,
    vocabulary,
)
from genforge.domains.materials.crysbfn.task import lattice_statistics

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "materials" / "tiny" / "crysbfn_gen.yaml"


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gen")
    write_perovskite_csv(root / "syn", 90, seed=1)
    _, cfg, run = load_task_config(CONFIG)
    cfg = override(cfg, [f"data_root={root}", "dataset=syn", f"train.out_dir={root / 'run'}"])
    run(cfg)
    return root / "run", cfg


def _three_oxygen_fraction(species: torch.Tensor) -> float:
    """Fraction of 5-atom crystals (``species [B * 5]``) with exactly three O, as every training ABO3."""
    return float(((species.reshape(-1, 5) == 8).sum(1) == 3).double().mean())


def test_tiny_train_generate_evaluate_learns_stoichiometry(trained_run: tuple[Path, object]) -> None:
    """Trained samples have the training stoichiometry (three O of five atoms) far more often than the same
    network's samples before training (~2%: independent uniform species), and are structurally valid; the
    run's metrics.json holds the model and both baselines."""
    out, cfg = trained_run
    metrics = json.loads((out / "metrics.json").read_text())["generation"]
    learned = metrics[f"crysbfn ({cfg.sample_steps} steps)"]
    assert set(metrics) == {f"crysbfn ({cfg.sample_steps} steps)", "baseline: training structures (ceiling)",
                            "baseline: training cells, random coordinates"}
    assert metrics["baseline: training structures (ceiling)"]["valid"] == 1.0
    train = load_crystals("syn", "train", root=cfg.data_root)
    untrained = build_model(cfg, vocabulary(train), atom_count_probabilities(train), *lattice_statistics(train))
    model, _ = load_trained_gen_model(load_trained(out / "last.pt"))
    before, _, _, num_atoms = generate_crystals(untrained, cfg, 64, cfg.sample_steps, seed=1)
    after = generate_crystals(model, cfg, 64, cfg.sample_steps, seed=1)[0]
    assert (num_atoms == 5).all()
    assert _three_oxygen_fraction(after) >= _three_oxygen_fraction(before) + 0.25
    assert learned["struct_valid"] >= 0.75


def test_cli_generate_writes_cifs_and_gallery(trained_run: tuple[Path, object], tmp_path: Path) -> None:
    out, _ = trained_run
    result = CliRunner().invoke(app, ["materials", "generate", "--ckpt", str(out / "last.pt"), "--num", "3", "--out",
                                      str(tmp_path / "gen"), "--steps", "5", "--gallery"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "gen").iterdir()) == ["crysbfn_0.cif", "crysbfn_1.cif",
                                                                     "crysbfn_2.cif", "gallery.png"]
    bad = CliRunner().invoke(app, ["materials", "generate", "--ckpt", str(out / "last.pt"), "--num", "1", "--out",
                                   str(tmp_path / "sdf"), "--format", "sdf"])
    assert bad.exit_code != 0 and "does not fit crystals" in str(bad.exception)
    assert load_trained(out / "last.pt").task == "materials.crysbfn_gen"
