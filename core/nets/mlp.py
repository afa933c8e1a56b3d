"""A plain multilayer perceptron, the building block of message and update functions."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import nn


class MLP(nn.Sequential):
    """Linear layers of widths ``dims`` with an activation between them (and after the last if asked).

    Shapes: ``[..., dims[0]]`` -> ``[..., dims[-1]]``.
    """

    def __init__(self, dims: Sequence[int], activation: type[nn.Module] = nn.SiLU, *,
                 activate_last: bool = False):
        layers: list[nn.Module] = []
        for index, (width_in, width_out) in enumerate(itertools.pairwise(dims)):
            layers.append(nn.Linear(width_in, width_out))
            if index < len(dims) - 2 or activate_last:
                layers.append(activation())
        super().__init__(*layers)
