"""Non-finite guard: NaN/inf steps leave every weight untouched, are counted, and N in a row abort."""

from __future__ import annotations

import math

import pytest
import torch
from _train_toys import assert_identical, plain_loss, snapshot, tiny_config, toy_data, toy_model

from genforge.core.errors import TrainingError
from genforge.core.train import MetricsLog, Trainer


def _loss_failing_at(calls: set[int], kind: str):
    counter = {"calls": 0}

    def loss(model, batch, generator):
        call = counter["calls"]
        counter["calls"] += 1
        value = plain_loss(model, batch, generator)
        if call not in calls:
            return value
        if kind == "nan":
            return value * math.nan
        if kind == "inf":
            return value + math.inf
        # finite loss, NaN gradient: d/dw sqrt(0 * |w|) = inf, times 0 -> NaN
        return value + 0.0 * torch.sqrt(0.0 * model[0].weight.abs().sum())

    return loss


@pytest.mark.parametrize("kind", ["nan", "inf", "nan_gradient"])
def test_nonfinite_steps_are_skipped_without_touching_weights(tmp_path, kind):
    bad = {2, 5, 6}
    trainer = Trainer(toy_model(dropout=0.0), _loss_failing_at(bad, kind), toy_data(),
                      tiny_config(tmp_path, steps=8, nonfinite_max=3))
    for step in range(8):
        before = snapshot(trainer)
        result = trainer.train_step()
        assert result.skipped == (step in bad)
        if step in bad:
            assert_identical(snapshot(trainer), before)
        else:
            assert not torch.equal(snapshot(trainer)["model.0.weight"], before["model.0.weight"])
    assert trainer.skipped == 3 and trainer.consecutive_nonfinite == 0


def test_consecutive_nonfinite_losses_abort(tmp_path):
    trainer = Trainer(toy_model(dropout=0.0), _loss_failing_at(set(range(3, 100)), "nan"), toy_data(),
                      tiny_config(tmp_path, steps=20, nonfinite_max=4))
    with pytest.raises(TrainingError, match="4 steps in a row") as info:
        trainer.train()
    assert trainer.step == 7 and trainer.skipped == 4
    assert "nonfinite_max" in str(info.value)


def test_skipped_fraction_is_logged(tmp_path):
    trainer = Trainer(toy_model(dropout=0.0), _loss_failing_at({1}, "nan"), toy_data(),
                      tiny_config(tmp_path, steps=4, log_every=2))
    summary = trainer.train()
    assert summary.skipped == 1
    records = MetricsLog(tmp_path / "metrics.jsonl").records()
    assert [r["step"] for r in records] == [2, 4]
    assert records[0]["skipped"] == 0.5 and records[1]["skipped"] == 0.0
    assert math.isfinite(records[0]["loss"])
