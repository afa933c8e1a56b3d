"""Training does not lose work: kill -9 mid-run then --resume reaches the uninterrupted run's weights with
at most one checkpoint interval redone; two runs on one folder cannot interleave their files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from genforge.core.errors import TrainingError
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.checkpoint import load_checkpoint, step_checkpoints
from genforge.core.train.lock import RunLock

RECIPE = Path(__file__).resolve().parents[2] / "configs" / "toy2d" / "tiny" / "toy2d.yaml"
CKPT_EVERY = 40


def train_command(out_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "genforge", "train", "--config", str(RECIPE), "--set", f"train.out_dir={out_dir}",
            "--set", "train.steps=400", "--set", f"train.ckpt_every={CKPT_EVERY}", "--set", "train.log_every=10",
            "--set", "train.keep_last=20", "--set", "num_samples=200", *extra]


def environment() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def logged_steps(out_dir: Path) -> int:
    path = out_dir / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.is_file() else []
    return len(lines) * 10


def test_kill_9_then_resume_matches_the_uninterrupted_run(tmp_path: Path) -> None:
    killed, clean = tmp_path / "killed", tmp_path / "clean"
    process = subprocess.Popen(train_command(killed), env=environment(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while logged_steps(killed) < 130 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    reached = logged_steps(killed)
    saved = max(step for step, _ in step_checkpoints(killed))
    assert reached < 400 and reached - saved <= CKPT_EVERY + 10  # at most one interval (+ log granularity) lost

    subprocess.run(train_command(killed, "--resume"), env=environment(), check=True, capture_output=True)
    subprocess.run(train_command(clean), env=environment(), check=True, capture_output=True)
    resumed, uninterrupted = load_checkpoint(killed / "last.pt"), load_checkpoint(clean / "last.pt")
    assert resumed["step"] == uninterrupted["step"] == 400
    for key, value in uninterrupted["model"].items():
        assert torch.equal(resumed["model"][key], value), key
    for key, value in uninterrupted["ema"]["shadow"].items():
        assert torch.equal(resumed["ema"]["shadow"][key], value), key


def test_a_second_run_on_the_same_folder_is_refused_while_the_first_holds_it(tmp_path: Path) -> None:
    model = torch.nn.Linear(2, 2)
    cfg = TrainConfig(steps=2, batch_size=4, out_dir=tmp_path, progress=False, ema_decay=None)
    trainer = Trainer(model, lambda m, batch, g: m(batch).square().mean(), torch.randn(8, 2), cfg)
    with RunLock(tmp_path), pytest.raises(TrainingError, match="another run"):
        trainer.train()
    assert not any(tmp_path.glob("*.pt"))
    assert trainer.train().step == 2  # the lock is released with its holder


def test_the_lock_of_a_killed_process_is_released(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from genforge.core.train.lock import RunLock;"
                               f" lock = RunLock({str(tmp_path)!r}).__enter__(); print('held', flush=True);"
                               " time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(TrainingError, match=f"pid {holder.pid}"), RunLock(tmp_path):
        pass
    holder.kill()
    holder.wait()
    with RunLock(tmp_path):
        pass
