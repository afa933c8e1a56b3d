"""Run output: metrics.jsonl records and truncation, tensorboard events, progress bar, DDP no-op helpers."""

from __future__ import annotations

import math

import torch
from _train_toys import noisy_loss, tiny_config, toy_data, toy_model

from genforge.core.train import MetricsLog, RunLogger, Trainer
from genforge.core.train.distributed import DistributedContext, all_reduce_mean, any_rank, gather_objects


def test_jsonl_records_window_means_and_truncates(tmp_path):
    trainer = Trainer(toy_model(), noisy_loss, toy_data(), tiny_config(tmp_path, steps=6, log_every=3))
    losses = [trainer.train_step().loss for _ in range(3)]
    trainer.train()
    records = MetricsLog(tmp_path / "metrics.jsonl").records()
    assert [r["step"] for r in records] == [6]  # steps 1-3 ran outside train(): nothing logged for them
    assert set(records[0]) == {"step", "loss", "grad_norm", "mae", "lr", "skipped"}
    log = MetricsLog(tmp_path / "m.jsonl")
    for step, loss in enumerate(losses, start=1):
        log.append(step, {"loss": loss, "bad": math.nan})
    log.truncate_after(2)
    assert [(r["step"], r["loss"], r["bad"]) for r in log.records()] == [(1, losses[0], "nan"),
                                                                          (2, losses[1], "nan")]


def test_tensorboard_and_progress_output(tmp_path, capsys):
    cfg = tiny_config(tmp_path, steps=4, log_every=2, tensorboard=True, progress=True)
    Trainer(toy_model(), noisy_loss, toy_data(), cfg).train()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert "step 4" in capsys.readouterr().err


def test_disabled_logger_writes_nothing(tmp_path):
    with RunLogger(tmp_path, total_steps=3, enabled=False, tensorboard=True) as logger:
        logger.log(1, {"loss": 1.0})
    assert not list(tmp_path.iterdir())


def test_single_process_collectives_are_identities():
    context = DistributedContext()
    value = torch.tensor([1.5, 2.0])
    assert torch.equal(all_reduce_mean(value, context), value)
    assert any_rank(True, context) and not any_rank(False, context)
    assert gather_objects({"a": 1}, context) == [{"a": 1}]
    assert context.is_main and not context.distributed
