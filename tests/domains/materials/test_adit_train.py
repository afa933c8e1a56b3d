"""Tiny ADiT end to end: VAE -> latent DiT -> generate molecules and crystals -> evaluate, and the CLI."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import torch
from materials_adit_fixtures import write_qm9_csv
from materials_crysbfn_fixtures import write_perovskite_csv
from typer.testing import CliRunner

import genforge.domains.materials.adit.task  # noqa: F401  (registers materials.adit and materials.adit_vae)
from genforge.cli import app
from genforge.core.config import load_task_config
from genforge.core.train.inference import load_trained
from genforge.domains.materials.adit.data import lattice_statistics, load_split
from genforge.domains.materials.adit.flow_task import export_half
from genforge.domains.materials.adit.vae_task import build_vae, evaluate_vae, held_out
from genforge.domains.materials.io import read_structures

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "materials" / "tiny"


def test_tiny_adit_trains_generates_and_evaluates(tmp_path: Path) -> None:
    write_perovskite_csv(tmp_path / "data" / "perov_5", 30)
    _, vae_cfg, run_vae = load_task_config(CONFIGS / "adit_vae.yaml")
    data = replace(vae_cfg.data, qm9_csv=write_qm9_csv(tmp_path / "qm9.csv", repeats=2), data_root=tmp_path / "data")
    vae_cfg = replace(vae_cfg, data=data, train=replace(vae_cfg.train, out_dir=tmp_path / "vae"))
    untrained = evaluate_vae(build_vae(vae_cfg, *lattice_statistics(load_split(data, "train")[0])),
                             held_out(data, vae_cfg.eval_molecules, vae_cfg.eval_crystals))
    trained = run_vae(vae_cfg)
    assert trained["molecule_pos_rmse"] < 0.5 * untrained["molecule_pos_rmse"]
    assert trained["species_accuracy"] > untrained["species_accuracy"] + 0.3

    _, cfg, run = load_task_config(CONFIGS / "adit.yaml")
    cfg = replace(cfg, vae_ckpt=tmp_path / "vae" / "last.pt", train=replace(cfg.train, out_dir=tmp_path / "dit"))
    report = run(cfg)
    saved = json.loads((tmp_path / "dit" / "metrics.json").read_text())
    assert saved["molecules"].keys() == report["molecules"].keys() and (tmp_path / "dit" / "samples.png").is_file()
    model_row = next(iter(saved["molecules"].values()))
    assert 0.0 <= model_row["validity"] <= 1.0 and model_row["samples_per_s"] > 0
    assert "struct_valid" in next(iter(saved["crystals"].values()))

    slim = export_half(load_trained(tmp_path / "dit" / "last.pt"), tmp_path / "adit_tiny.pt", saved)
    runner = CliRunner()
    for kind, fmt, count in (("molecule", "xyz", 3), ("crystal", "cif", 2)):
        out = tmp_path / f"gen_{kind}"
        result = runner.invoke(app, ["materials", "generate", "--ckpt", str(slim), "--num", str(count), "--kind", kind,
                                     "--format", fmt, "--out", str(out), "--steps", "4", "--gallery"])
        assert result.exit_code == 0, result.output
        records = [r for path in sorted(out.glob(f"*.{fmt}")) for r in read_structures(path)]
        assert len(records) == count and all(torch.isfinite(r.pos).all() for r in records)
        assert all((r.cell is not None) == (kind == "crystal") for r in records)
        assert (out / "gallery.png").is_file()
