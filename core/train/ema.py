r"""Exponential moving average (EMA) of a model's weights, with a warm-up of the decay.

After every applied optimiser update at step :math:`s` the shadow weights follow

.. math::
    \bar\theta \leftarrow d_s \bar\theta + (1 - d_s)\theta, \qquad
    d_s = \min\Big(d, \frac{1 + n}{10 + n}\Big), \quad n = s - s_0,

the ``num_updates`` rule of TensorFlow's ``ExponentialMovingAverage`` (used by the DDPM / LDM training
code), so early averages are not dominated by the random initialisation. Before ``start_step``
:math:`s_0` the shadow copies :math:`\theta` (:math:`d_s = 0`). Every floating-point entry of the
model's ``state_dict`` (parameters and float buffers such as norm statistics) is averaged; integer
buffers are copied.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


class EMA:
    """Shadow copy of ``model``'s state, on the model's device.

    Args:
        model: the (unwrapped) module whose weights are averaged.
        decay: the asymptotic decay :math:`d` in [0, 1).
        start_step: first step :math:`s_0` that averages; earlier updates copy the weights.
    """

    def __init__(self, model: nn.Module, decay: float, start_step: int = 0):
        self.decay = decay
        self.start_step = start_step
        self.shadow: dict[str, Tensor] = {
            key: value.detach().clone() for key, value in model.state_dict().items()}

    def decay_at(self, step: int) -> float:
        """The decay :math:`d_s` applied by the update made at ``step``."""
        if step < self.start_step:
            return 0.0
        updates = step - self.start_step
        return min(self.decay, (1.0 + updates) / (10.0 + updates))

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Move the shadow towards ``model``'s current weights (call after the optimiser step)."""
        weight = 1.0 - self.decay_at(step)
        for key, value in model.state_dict().items():
            shadow = self.shadow[key]
            if shadow.is_floating_point():
                shadow.lerp_(value, weight)
            else:
                shadow.copy_(value)

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Overwrite ``model``'s weights with the averaged ones."""
        model.load_state_dict(self.shadow)

    def state_dict(self) -> dict[str, Any]:
        """``{"shadow": {name: tensor}}``; the decay schedule is config, not state."""
        return {"shadow": dict(self.shadow)}

    @torch.no_grad()
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the shadow from :meth:`state_dict` output; keys and shapes must match the model."""
        shadow = state["shadow"]
        if shadow.keys() != self.shadow.keys():
            raise KeyError(f"EMA keys differ from the model's: {sorted(shadow.keys() ^ self.shadow.keys())}")
        for key, value in shadow.items():
            self.shadow[key].copy_(value)
