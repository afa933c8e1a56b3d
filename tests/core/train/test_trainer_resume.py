"""Exact resume: N steps straight == N/2 steps, checkpoint, fresh Trainer + restore, N/2 steps."""

from __future__ import annotations

import random

import numpy as np
import torch
from _train_toys import assert_identical, noisy_loss, snapshot, tiny_config, toy_data, toy_model

from genforge.core.train import MetricsLog, Trainer


def _scramble_global_rngs() -> None:
    torch.rand(17)
    random.random()
    np.random.rand(3)


def test_resume_continues_bit_identically(tmp_path):
    data = toy_data()  # 40 examples, batch 8: step 6 is inside the second epoch
    straight = Trainer(toy_model(), noisy_loss, data, tiny_config(tmp_path / "straight"))
    straight.train()

    interrupted = Trainer(toy_model(), noisy_loss, data, tiny_config(tmp_path / "resumed"))
    interrupted.train(until=6)
    assert interrupted.step == 6
    _scramble_global_rngs()

    resumed = Trainer(toy_model(seed=99), noisy_loss, data, tiny_config(tmp_path / "resumed"))
    used = resumed.restore()
    assert used == tmp_path / "resumed" / "last.pt" and resumed.step == 6
    resumed.train()

    assert resumed.step == straight.step == 12
    assert_identical(snapshot(resumed), snapshot(straight))
    assert resumed.data.state_dict()["position"] == straight.data.state_dict()["position"]
    assert torch.equal(resumed.loss_generator.get_state(), straight.loss_generator.get_state())
    assert MetricsLog(tmp_path / "resumed" / "metrics.jsonl").records() == \
        MetricsLog(tmp_path / "straight" / "metrics.jsonl").records()


def test_without_restore_the_runs_differ(tmp_path):
    """Guards the test above: a fresh run from step 6's weights alone does not reproduce the straight run."""
    data = toy_data()
    straight = Trainer(toy_model(), noisy_loss, data, tiny_config(tmp_path / "a"))
    straight.train()
    partial = Trainer(toy_model(), noisy_loss, data, tiny_config(tmp_path / "b"))
    partial.train(until=6)
    weights_only = Trainer(toy_model(), noisy_loss, data, tiny_config(tmp_path / "c"))
    weights_only.model.load_state_dict(partial.model.state_dict())
    weights_only.step = 6
    weights_only.train()
    assert not torch.equal(weights_only.model[0].weight, straight.model[0].weight)


def test_checkpoint_is_plain_data_loadable_with_weights_only(tmp_path):
    trainer = Trainer(toy_model(), noisy_loss, toy_data(), tiny_config(tmp_path, steps=2, ckpt_every=2))
    trainer.train()
    payload = torch.load(tmp_path / "last.pt", weights_only=True)
    assert payload["step"] == 2
    assert payload["config"]["batch_size"] == 8 and payload["config"]["out_dir"] == str(tmp_path)
    assert payload["ema"] is not None and payload["rng"][0]["torch_cpu"].dtype == torch.uint8
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["last.pt", "step_00000002.pt"]
    fresh = toy_model(seed=3)
    fresh.load_state_dict(payload["model"])
    assert torch.equal(fresh[0].weight, trainer.model[0].weight)
