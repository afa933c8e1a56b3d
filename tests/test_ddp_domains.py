"""Domain recipes train under torchrun with 2 gloo processes (the same command as on a GPU node), and a
DDP run resumes from its own checkpoint."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from genforge.core.train.checkpoint import load_checkpoint

TESTS = Path(__file__).resolve().parent
CONFIGS = TESTS.parent / "configs"
RECIPES = {"pde.wdno": (CONFIGS / "pde" / "tiny" / "wdno.yaml", ()),
           "medical.prior": (CONFIGS / "medical" / "tiny" / "prior.yaml", ()),
           "transition_states.tsgen": (CONFIGS / "transition_states" / "tiny" / "tsgen.yaml",
                                       ("--set", f"data_root={TESTS / 'fixtures' / 'rdb7'}")),
           "trajectories.geotdm": (CONFIGS / "trajectories" / "tiny" / "geotdm_nbody.yaml", ())}
"""Recipe and the overrides that point it at the repository's fixtures (a clean clone has no shared data)."""


def torchrun(task: str, out: Path, steps: int, *extra: str) -> subprocess.CompletedProcess[str]:
    recipe, data = RECIPES[task]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "genforge", "train", "--config", str(recipe), "--set", f"train.out_dir={out}",
               "--set", f"train.steps={steps}", "--set", "train.ckpt_every=2", *data, *extra]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "XDG_CACHE_HOME": str(out / "cache")}
    return subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.parametrize("task", sorted(RECIPES))
def test_two_process_training_and_resume(tmp_path: Path, task: str) -> None:
    first = torchrun(task, tmp_path, 2)
    assert first.returncode == 0, first.stderr[-2000:]
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 2
    resumed = torchrun(task, tmp_path, 4, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    state = load_checkpoint(tmp_path / "last.pt")
    assert state["step"] == 4 and state["config"]["task"] == task
    assert len(state["rng"]) == 2  # both ranks' RNG states are saved for an exact resume
