r"""Minibatch optimal-transport coupling of data and prior samples (OT-CFM, Tong et al. 2023, Sec. 3.2).

Pairing each data point with a prior sample by the exact OT plan of the minibatch (squared Euclidean cost
:math:`c(x_0, x_1) = \|x_0 - x_1\|^2` on flattened samples) straightens the paths of flow matching. With
equal batch sizes and uniform weights the plan is a permutation (Birkhoff), found exactly by the Hungarian
algorithm; unequal weights or sizes need a general plan, solved by POT's network simplex (``ot.emd``).
"""

from __future__ import annotations

import numpy as np
import ot
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def squared_distances(x0: Tensor, x1: Tensor) -> Tensor:
    """Cost matrix ``[B0, B1]`` of squared Euclidean distances between flattened samples (float64)."""
    return torch.cdist(x0.reshape(x0.shape[0], -1).double(), x1.reshape(x1.shape[0], -1).double()).square()


def ot_permutation(x0: Tensor, x1: Tensor) -> Tensor:
    """Permutation ``perm [B]`` minimising sum_i ||x0[i] - x1[perm[i]]||^2 (exact assignment).

    Shapes: ``x0 [B, ...]`` and ``x1 [B, ...]`` with the same number of elements per sample.
    """
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"an assignment needs equal batch sizes, got {x0.shape[0]} and {x1.shape[0]}; "
                         "use ot_plan for unequal sizes")
    rows, cols = linear_sum_assignment(squared_distances(x0, x1).cpu().numpy())
    perm = np.empty_like(cols)
    perm[rows] = cols
    return torch.as_tensor(perm, dtype=torch.long, device=x1.device)


def ot_pair(x0: Tensor, x1: Tensor) -> Tensor:
    """``x1`` reordered so that ``(x0[i], result[i])`` is the minibatch OT pairing."""
    return x1[ot_permutation(x0, x1)]


def ot_plan(x0: Tensor, x1: Tensor, weights0: Tensor | None = None,
            weights1: Tensor | None = None) -> Tensor:
    """Exact OT plan ``[B0, B1]`` (float64, entries sum to 1) between weighted samples, via ``ot.emd``.

    Args:
        x0: samples ``[B0, ...]``.
        x1: samples ``[B1, ...]``.
        weights0: nonnegative weights ``[B0]`` (uniform when None), normalised to sum 1.
        weights1: nonnegative weights ``[B1]`` (uniform when None), normalised to sum 1.
    """
    cost = squared_distances(x0, x1).cpu().numpy()
    a = _normalised(weights0, x0.shape[0])
    b = _normalised(weights1, x1.shape[0])
    return torch.as_tensor(ot.emd(a, b, cost), dtype=torch.float64, device=x0.device)


def _normalised(weights: Tensor | None, count: int) -> np.ndarray:
    if weights is None:
        return np.full(count, 1.0 / count)
    values = weights.detach().double().cpu().numpy()
    return values / values.sum()


def sample_plan(plan: Tensor, num_pairs: int,
                generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Draw ``num_pairs`` index pairs ``(i [P], j [P])`` with probability ``plan[i, j]``, with replacement."""
    flat = torch.multinomial(plan.reshape(-1), num_pairs, replacement=True, generator=generator)
    return flat // plan.shape[1], flat % plan.shape[1]
