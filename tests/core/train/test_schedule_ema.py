"""LR schedule values and EMA maths."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from _train_toys import plain_loss, tiny_config, toy_data, toy_model
from torch import nn

from genforge.core.train import EMA, TrainConfig, Trainer, learning_rate


def test_warmup_then_cosine_values():
    cfg = TrainConfig(steps=110, lr=2.0, warmup_steps=10, min_lr_ratio=0.1)
    assert learning_rate(0, cfg) == pytest.approx(0.2)
    assert learning_rate(4, cfg) == pytest.approx(1.0)
    assert learning_rate(9, cfg) == pytest.approx(2.0)  # warm-up end: peak
    assert learning_rate(10, cfg) == pytest.approx(2.0)
    assert learning_rate(60, cfg) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5))  # cosine midpoint
    assert learning_rate(35, cfg) == pytest.approx(2.0 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi / 4))))
    assert learning_rate(110, cfg) == pytest.approx(0.2)  # end: min_lr_ratio * lr
    decay = [learning_rate(step, cfg) for step in range(10, 111)]
    assert all(a > b for a, b in itertools.pairwise(decay))


def test_constant_schedule_and_no_warmup():
    cfg = TrainConfig(steps=50, lr=0.3, warmup_steps=5, schedule="constant")
    assert [learning_rate(step, cfg) for step in (0, 4, 5, 49)] == pytest.approx([0.06, 0.3, 0.3, 0.3])
    assert learning_rate(0, TrainConfig(steps=50, lr=0.3, warmup_steps=0)) == pytest.approx(0.3)


def test_trainer_applies_the_schedule(tmp_path):
    cfg = tiny_config(tmp_path, steps=6, warmup_steps=2)
    trainer = Trainer(toy_model(), plain_loss, toy_data(), cfg)
    for step in range(6):
        result = trainer.train_step()
        assert result.lr == learning_rate(step, cfg) == trainer.optimizer.param_groups[0]["lr"]


def test_ema_of_constant_weights_is_exact():
    model = nn.Linear(4, 3)
    ema = EMA(model, decay=0.999)
    for step in range(20):
        ema.update(model, step)
    for key, value in model.state_dict().items():
        assert torch.equal(ema.shadow[key], value)


def test_ema_matches_manual_recursion_with_warmup_and_start():
    model = nn.Linear(2, 1, bias=False).double()
    ema = EMA(model, decay=0.8, start_step=3)
    generator = torch.Generator().manual_seed(0)
    manual = model.weight.detach().clone()
    for step in range(12):
        with torch.no_grad():
            model.weight.copy_(torch.randn(1, 2, generator=generator, dtype=torch.float64))
        ema.update(model, step)
        updates = step - 3
        decay = 0.0 if step < 3 else min(0.8, (1 + updates) / (10 + updates))
        manual = decay * manual + (1 - decay) * model.weight.detach()
        assert torch.allclose(ema.shadow["weight"], manual, rtol=0, atol=1e-14)
    assert ema.decay_at(2) == 0.0 and ema.decay_at(3) == pytest.approx(0.1) and ema.decay_at(1000) == 0.8


def test_ema_copy_state_and_integer_buffers():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(model, decay=0.5)
    model(torch.randn(4, 2, generator=torch.Generator().manual_seed(1)))  # moves running stats, counter
    with torch.no_grad():
        model[0].weight.add_(1.0)
    ema.update(model, step=100)
    assert ema.shadow["1.num_batches_tracked"].item() == 1  # integers are copied, not averaged
    target = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema.copy_to(target)
    assert torch.equal(target[0].weight, ema.shadow["0.weight"])
    clone = EMA(target, decay=0.5)
    clone.load_state_dict(ema.state_dict())
    assert all(torch.equal(clone.shadow[k], v) for k, v in ema.shadow.items())
    with pytest.raises(KeyError):
        EMA(nn.Linear(2, 2), 0.5).load_state_dict(ema.state_dict())
