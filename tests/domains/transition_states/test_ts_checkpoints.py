"""Packaged TS models: save/load round trip, the tiny recipe end to end (train -> package -> generate)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from _ts_synthetic import synthetic_reactions

from genforge.core.config import load_task_config, override
from genforge.core.errors import CheckpointError
from genforge.domains.transition_states import tasks  # noqa: F401  (registers the tasks)
from genforge.domains.transition_states.checkpoints import (
    TsModelConfig,
    default_checkpoint,
    load_packaged,
    model_from_run,
    save_packaged,
)
from genforge.domains.transition_states.flow import generate

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "tests" / "fixtures" / "rdb7"


def test_round_trip_gives_the_same_transition_states(tmp_path: Path) -> None:
    model_cfg = TsModelConfig(hidden=8, num_layers=2, num_rbf=4, time_dim=4)
    torch.manual_seed(0)
    model = model_cfg.build().eval()
    for layer in model.layers:
        torch.nn.init.normal_(layer.phi_v[-1].weight, std=0.3)
    save_packaged(tmp_path / "m.pt", model, "tsgen", model_cfg, solver="heun", steps=3, elements=[8, 1, 6],
                  card={"metrics": {"rmsd_median": 0.1}})
    package = load_packaged(tmp_path / "m.pt")
    assert (package.variant, package.solver, package.steps, package.elements) == ("tsgen", "heun", 3, (1, 6, 8))
    reactions = synthetic_reactions(3, 0)
    args = (reactions.species, reactions.pos_reactant, reactions.pos_product, reactions.batch)
    assert torch.equal(generate(model, "tsgen", *args, steps=3, solver="heun", seed=4),
                       generate(package.model, "tsgen", *args, steps=3, solver="heun", seed=4))
    assert '"rmsd_median": 0.1' in (tmp_path / "m.json").read_text()


def test_package_of_another_size_is_rejected(tmp_path: Path) -> None:
    model_cfg = TsModelConfig(hidden=8, num_layers=1, num_rbf=4, time_dim=4)
    save_packaged(tmp_path / "m.pt", model_cfg.build(), "reactot", model_cfg, solver="euler", steps=2,
                  elements=[1], card={})
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["model"]["hidden"] = 16
    torch.save(payload, tmp_path / "m.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        load_packaged(tmp_path / "m.pt")


@pytest.mark.parametrize("variant", ["tsgen", "reactot"])
def test_tiny_recipe_trains_packages_and_generates(variant: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    recipe = REPO / "configs" / "transition_states" / "tiny" / f"{variant}.yaml"
    assert yaml.safe_load(recipe.read_text())["task"] == f"transition_states.{variant}"
    _, cfg, run = load_task_config(recipe)
    run(override(cfg, [f"data_root={FIXTURE}", f"train.out_dir={tmp_path}"]))
    package = load_packaged(tmp_path / "model.pt")
    assert package.variant == variant and set(package.elements) <= {1, 6, 7, 8}
    assert model_from_run(tmp_path).step == cfg.train.steps
    reactions = synthetic_reactions(2, 1)
    ts = generate(package.model, variant, reactions.species, reactions.pos_reactant, reactions.pos_product,
                  reactions.batch, steps=package.steps)
    assert ts.shape == reactions.pos_reactant.shape and torch.isfinite(ts).all()


@pytest.mark.parametrize("variant", ["tsgen", "reactot"])
def test_shipped_checkpoint_loads_and_is_small(variant: str) -> None:
    path = default_checkpoint(variant)
    if not path.is_file():
        pytest.skip(f"{path.name} not shipped in this checkout")
    package = load_packaged(path)
    assert package.variant == variant and package.elements == (1, 6, 7, 8)
    assert path.stat().st_size <= 5 * 2**20
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["recipe"]["task"] == f"transition_states.{variant}" and "rmsd_median" in card["metrics"]
