r"""Learning-rate schedule: linear warm-up then cosine decay (or constant), a pure function of the step.

Warm-up (Goyal et al. 2017, "Accurate, large minibatch SGD", sec. 2.2) ramps linearly so that the first
update uses :math:`\eta / W` and step :math:`W - 1` uses the peak :math:`\eta`. Cosine decay (Loshchilov &
Hutter 2017, SGDR, eq. 5, one cycle without restarts) then follows, with progress
:math:`p = (s - W) / (S - W) \in [0, 1]`:

.. math::
    \eta(s) = \eta \big(r + (1 - r)\tfrac12 (1 + \cos \pi p)\big),

reaching :math:`r\eta` (``min_lr_ratio``) at :math:`s = S` (``steps``). Being stateless, it needs no
scheduler object in checkpoints: the step count determines it.
"""

from __future__ import annotations

import math

from genforge.core.train.train_config import TrainConfig


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Learning rate of the update made at (0-based) ``step``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant" or cfg.steps <= cfg.warmup_steps:
        return cfg.lr
    progress = min((step - cfg.warmup_steps) / (cfg.steps - cfg.warmup_steps), 1.0)
    return cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
