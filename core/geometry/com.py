r"""Centre-of-mass-free point clouds in a graph batch (E(n) equivariant diffusion, Hoogeboom et al. 2022).

Positions ``pos [N, D]`` of ``B`` graphs carry a node-to-graph index ``batch [N]``. The CoM-free subspace of
a graph with n nodes has dimension (n - 1) D; an isotropic Gaussian restricted to it (Hoogeboom et al.
2022, Sec. 3.2) is drawn by projecting a full Gaussian, so each coordinate has variance (n - 1) / n and the
log-density counts (n - 1) D degrees of freedom, not n D.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def _num_graphs(batch: Tensor, num_graphs: int | None) -> int:
    return int(batch.max()) + 1 if num_graphs is None else num_graphs


def graph_sizes(batch: Tensor, num_graphs: int | None = None) -> Tensor:
    """Nodes per graph ``[B]`` (long) of a batch index ``batch [N]``."""
    return torch.bincount(batch, minlength=_num_graphs(batch, num_graphs))


def graph_mean(values: Tensor, batch: Tensor, num_graphs: int | None = None) -> Tensor:
    """Per-graph mean ``[B, ...]`` of per-node ``values [N, ...]`` (0 for an empty graph)."""
    count = _num_graphs(batch, num_graphs)
    sums = torch.zeros((count, *values.shape[1:]), dtype=values.dtype, device=values.device)
    sums.index_add_(0, batch, values)
    sizes = graph_sizes(batch, count).clamp_min(1).to(values.dtype)
    return sums / sizes.reshape(count, *([1] * (values.dim() - 1)))


def remove_com(pos: Tensor, batch: Tensor, num_graphs: int | None = None) -> Tensor:
    """Subtract each graph's centre of mass (unweighted mean): ``[N, D] -> [N, D]``."""
    return pos - graph_mean(pos, batch, num_graphs)[batch]


def com_free_noise(batch: Tensor, num_graphs: int | None = None, generator: torch.Generator | None = None,
                   *, dim: int = 3, dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard Gaussian noise ``[N, dim]`` projected onto each graph's CoM-free subspace.

    Per coordinate the variance is (n - 1) / n for a graph of n nodes; the noise is an isotropic standard
    Gaussian in the (n - 1) dim-dimensional subspace.
    """
    noise = torch.randn((batch.shape[0], dim), generator=generator, dtype=dtype, device=batch.device)
    return remove_com(noise, batch, num_graphs)


def com_free_dof(batch: Tensor, num_graphs: int | None = None, dim: int = 3) -> Tensor:
    """Degrees of freedom (n - 1) dim of each graph's CoM-free subspace, ``[B]`` (long)."""
    return (graph_sizes(batch, num_graphs) - 1).clamp_min(0) * dim


def com_free_gaussian_log_prob(pos: Tensor, batch: Tensor, num_graphs: int | None = None,
                               sigma: float = 1.0) -> Tensor:
    r"""Log-density ``[B]`` of CoM-free ``pos [N, D]`` under N(0, sigma^2 I) restricted to the subspace.

    :math:`\log p = -\frac{(n-1)D}{2}\log(2\pi\sigma^2) - \frac{\|x\|^2}{2\sigma^2}` per graph (Hoogeboom
    et al. 2022, eq. 6 with the corrected dimension).
    """
    count = _num_graphs(batch, num_graphs)
    squared = torch.zeros(count, dtype=pos.dtype, device=pos.device)
    squared.index_add_(0, batch, pos.square().sum(-1))
    dof = com_free_dof(batch, count, pos.shape[-1]).to(pos.dtype)
    return -0.5 * dof * math.log(2.0 * math.pi * sigma**2) - 0.5 * squared / sigma**2
