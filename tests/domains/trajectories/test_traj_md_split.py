"""MD train / held-out split by run: the last ``heldout_runs`` runs are held out, whole."""

import pytest
import torch

from genforge.core.errors import ConfigError
from genforge.datasets import md_trajectories
from genforge.datasets.md_trajectories import MDConfig, MDData
from genforge.domains.trajectories.data import eval_windows, md_sets

WATER = MDConfig(molecule="O")


@pytest.fixture
def five_runs(monkeypatch: pytest.MonkeyPatch) -> torch.Tensor:
    """Five fake runs of 40 frames of a 3-atom molecule whose positions encode (run, frame)."""
    run = torch.arange(5.0)[:, None, None, None]
    frame = torch.arange(40.0)[None, :, None, None]
    pos = (100 * run + frame).expand(5, 40, 3, 3).contiguous()
    zeros = torch.zeros(5, 40, dtype=torch.float64)
    data = MDData(pos, zeros, zeros, torch.tensor([8, 1, 1]))
    monkeypatch.setattr(md_trajectories, "load_md", lambda num_runs, seed, cfg: data)
    return pos


def test_the_last_runs_are_held_out_whole(five_runs: torch.Tensor) -> None:
    train, held_out = md_sets(WATER, 5, 0, heldout_runs=2)
    assert torch.equal(train.pos, five_runs[:3]) and torch.equal(held_out.pos, five_runs[3:])
    assert train.node_features.shape == (3, 3, 2) and held_out.node_features.shape == (2, 3, 2)
    windows, features = eval_windows(held_out, 30, 5, 100)
    assert windows.shape == (2 * 3, 30, 3, 3) and features.shape == (6, 3, 2)
    assert set((windows[:, 0, 0, 0] // 100).tolist()) == {3.0, 4.0}


def test_default_holds_out_one_run(five_runs: torch.Tensor) -> None:
    train, held_out = md_sets(WATER, 5, 0)
    assert train.pos.shape[0] == 4 and torch.equal(held_out.pos, five_runs[4:])


@pytest.mark.parametrize(("num_runs", "heldout", "field"), [(3, 3, "md_runs"), (3, 0, "md_heldout_runs")])
def test_bad_split_is_one_clear_error(five_runs: torch.Tensor, num_runs: int, heldout: int, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        md_sets(WATER, num_runs, 0, heldout_runs=heldout)
