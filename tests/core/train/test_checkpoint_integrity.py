"""Checkpoints: corruption and truncation are detected and named; writes are atomic; rotation; latest()."""

from __future__ import annotations

import os

import pytest
import torch
from _train_toys import noisy_loss, tiny_config, toy_data, toy_model

from genforge.core import atomic as atomic_module
from genforge.core.errors import CheckpointError
from genforge.core.train import Trainer, latest, load_checkpoint, write_checkpoint
from genforge.core.train import checkpoint as checkpoint_module


@pytest.fixture
def trained(tmp_path) -> Trainer:
    """4 steps with a checkpoint every 2: step_00000002.pt, step_00000004.pt, last.pt."""
    trainer = Trainer(toy_model(), noisy_loss, toy_data(), tiny_config(tmp_path, steps=4, ckpt_every=2))
    trainer.train()
    return trainer


def _fresh(tmp_path) -> Trainer:
    return Trainer(toy_model(seed=7), noisy_loss, toy_data(), tiny_config(tmp_path, steps=4, ckpt_every=2))


def test_truncated_checkpoint_is_rejected_and_previous_one_loads(trained, tmp_path):
    newest = tmp_path / "step_00000004.pt"
    raw = newest.read_bytes()
    newest.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupted") as info:
        _fresh(tmp_path).restore(newest)
    assert str(newest) in str(info.value)
    previous = _fresh(tmp_path)
    previous.restore(tmp_path / "step_00000002.pt")
    assert previous.step == 2


def test_flipped_tensor_byte_is_caught_by_the_digest(trained, tmp_path):
    path = tmp_path / "last.pt"
    raw = bytearray(path.read_bytes())
    weight_bytes = trained.model[0].weight.detach().numpy().tobytes()
    offset = raw.find(weight_bytes)
    assert offset > 0  # the tensor's bytes are stored verbatim in the zip
    raw[offset + 5] ^= 0x10
    path.write_bytes(bytes(raw))
    torch.load(path, weights_only=True)  # still a readable torch file: only the digest can tell
    with pytest.raises(CheckpointError, match="sha256") as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)
    assert load_checkpoint(tmp_path / "step_00000004.pt")["step"] == 4


def test_crash_during_write_leaves_previous_file_intact(trained, tmp_path, monkeypatch):
    before = (tmp_path / "last.pt").read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(atomic_module.os, "replace", crash)
    trained.train_step()
    with pytest.raises(OSError, match="disk full"):
        trained.save_checkpoint()
    monkeypatch.setattr(atomic_module.os, "replace", os.replace)
    assert (tmp_path / "last.pt").read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp*"))
    assert load_checkpoint(tmp_path / "last.pt")["step"] == 4


def test_missing_foreign_and_mismatched_checkpoints(tmp_path, trained):
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nope.pt")
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {}}, foreign)
    with pytest.raises(CheckpointError, match="not a genforge checkpoint"):
        load_checkpoint(foreign)
    other = Trainer(torch.nn.Linear(3, 2), noisy_loss, toy_data(), tiny_config(tmp_path / "other"))
    with pytest.raises(CheckpointError, match="does not fit") as info:
        other.restore(tmp_path / "last.pt")
    assert "last.pt" in str(info.value)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        other.restore()
    no_ema = Trainer(toy_model(), noisy_loss, toy_data(), tiny_config(tmp_path / "no_ema", ema_decay=None))
    with pytest.raises(CheckpointError, match="EMA enabled"):
        no_ema.restore(tmp_path / "last.pt")
    old_format = tmp_path / "old.pt"
    write_checkpoint({"format": 0}, old_format)
    with pytest.raises(CheckpointError, match="checkpoint format 0"):
        other.restore(old_format)


def test_rotation_keeps_last_k_and_latest(tmp_path):
    assert latest(tmp_path) is None
    trainer = Trainer(toy_model(), noisy_loss, toy_data(),
                      tiny_config(tmp_path, steps=5, ckpt_every=1, keep_last=2))
    trainer.train()
    kept = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert kept == ["last.pt", "step_00000004.pt", "step_00000005.pt"]
    assert latest(tmp_path) == tmp_path / "last.pt"
    (tmp_path / "last.pt").unlink()
    assert latest(tmp_path) == tmp_path / "step_00000005.pt"
    restarted = Trainer(toy_model(), noisy_loss, toy_data(),
                        tiny_config(tmp_path, steps=2, ckpt_every=1, keep_last=2))
    restarted.train()  # a new timeline: checkpoints of the abandoned one (steps 4, 5) go
    kept = sorted(p.name for p in tmp_path.glob("*.pt"))
    assert kept == ["last.pt", "step_00000001.pt", "step_00000002.pt"]


def test_digest_distinguishes_types_and_values(tmp_path):
    path = tmp_path / "x.pt"
    write_checkpoint({"a": 1, "b": [torch.arange(3)], "c": None}, path)
    assert load_checkpoint(path)["b"][0].tolist() == [0, 1, 2]
    digest = checkpoint_module.payload_digest
    assert digest({"a": 1}) != digest({"a": 1.0}) != digest({"a": "1"})
    assert digest({"t": torch.zeros(2)}) != digest({"t": torch.zeros(2, dtype=torch.float64)})
    assert digest({"t": torch.zeros(2)}) != digest({"t": torch.zeros(1, 2)})
