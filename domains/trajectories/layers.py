r"""Equivariant spatio-temporal layers over dense geometric trajectories (GeoTDM's EGTN building blocks).

A batch of trajectories is dense: positions ``x [B, T, N, 3]`` (B systems, T frames, N particles) and
invariant features ``h [B, T, N, H]``; every frame is a fully connected particle graph with static pair
attributes ``e [B, N, N, E]``.

Spatial layer (EGNN, Satorras et al. 2021, eqs. 3-6, applied to every frame; i receives from j != i):
    m_ij = phi_e(h_i, h_j, |x_i - x_j|^2, e_ij)       (two-layer SiLU MLP)
    h_i <- h_i + phi_h(h_i, sum_j m_ij)
    x_i <- x_i + 1/(N-1) sum_j (x_i - x_j) / (|x_i - x_j| + 1) phi_x(m_ij)   (phi_x linear)

Temporal layer (attention over the frames of each particle with relative-time embeddings r_ts; Han et al.
2024, sec. 3.2): a_ts = softmax_s(q_t . (k_s + r_ts) / sqrt(H))
    h_t <- h_t + sum_s a_ts (v_s + r_ts)
    x_t <- x_t + sum_s a_ts (x_t - x_s) phi_x(v_s)

Both updates use position differences only, so they are E(3)-equivariant (rotations, reflections and
translations act on x, h is invariant) and permutation-equivariant over particles; a shared translation of
all frames leaves h unchanged and shifts x.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genforge.core.nets.embeddings import sinusoidal_embedding
from genforge.core.nets.mlp import MLP


def _small_head(hidden: int) -> nn.Sequential:
    """MLP hidden -> 1 whose last layer starts near zero (small initial coordinate updates, as EDM)."""
    last = nn.Linear(hidden, 1, bias=False)
    nn.init.xavier_uniform_(last.weight, gain=1e-3)
    return nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)


class SpatialLayer(nn.Module):
    """EGNN message passing inside every frame (module docstring).

    Args:
        hidden: width H of h and of the messages.
        edge_dim: width E of the pair attributes.

    Shapes: x ``[B, T, N, 3]``, h ``[B, T, N, H]``, e ``[B, N, N, E]`` -> (x, h) of the same shapes.
    """

    def __init__(self, hidden: int, edge_dim: int):
        super().__init__()
        self.receiver = nn.Linear(hidden, hidden)
        self.sender = nn.Linear(hidden, hidden, bias=False)
        self.pair = nn.Linear(1 + edge_dim, hidden, bias=False)
        self.message = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.phi_h = MLP([2 * hidden, hidden, hidden])
        self.phi_x = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(self.phi_x.weight, gain=1e-3)

    def forward(self, x: Tensor, h: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        N = h.shape[2]
        diff = off_diagonal(x[:, :, :, None, :] - x[:, :, None, :, :])  # [B, T, N, N-1, 3] = x_i - x_j, j != i
        dist2 = diff.square().sum(-1, keepdim=True)
        # phi_e's first linear map on [h_i, h_j, d2, e] split into its node, distance and static pair parts
        weight = self.pair.weight  # [H, 1 + E]
        static = F.linear(off_diagonal(e), weight[:, 1:])[:, None]  # [B, 1, N, N-1, H], shared by all frames
        nodes = off_diagonal(self.receiver(h)[:, :, :, None] + self.sender(h)[:, :, None])
        messages = self.message(nodes + static + dist2 * weight[:, 0])
        h = h + self.phi_h(torch.cat([h, messages.sum(3)], dim=-1))
        weights = self.phi_x(messages) / ((dist2 + 1e-8).sqrt() + 1.0)
        x = x + (diff * weights).sum(3) / max(N - 1, 1)
        return x, h


class TemporalLayer(nn.Module):
    """Attention over the frames of every particle with relative-time embeddings (module docstring).

    Args:
        hidden: width H of h.
        time_dim: width of the sinusoidal embedding of the frame offset t - s.

    Shapes: x ``[B, T, N, 3]``, h ``[B, T, N, H]`` -> (x, h) of the same shapes.
    """

    def __init__(self, hidden: int, time_dim: int = 32):
        super().__init__()
        self.time_dim = time_dim
        self.q = MLP([hidden, hidden, hidden])
        self.k = MLP([hidden, hidden, hidden])
        self.v = MLP([hidden, hidden, hidden])
        self.relative = nn.Linear(time_dim, hidden)
        self.phi_x = _small_head(hidden)

    def forward(self, x: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        T, H = h.shape[1], h.shape[-1]
        frames = torch.arange(T, dtype=h.dtype, device=h.device)
        offsets = (frames[:, None] - frames[None, :]).reshape(-1)
        rel = self.relative(sinusoidal_embedding(offsets, self.time_dim, scale=1.0)).reshape(T, T, H)
        q, k, v = self.q(h), self.k(h), self.v(h)  # [B, T, N, H]
        logits = (torch.einsum("btnh,bsnh->bnts", q, k) + torch.einsum("btnh,tsh->bnts", q, rel)) / math.sqrt(H)
        attention = logits.softmax(-1)  # [B, N, T, S]
        update = torch.einsum("bnts,bsnh->btnh", attention, v) + torch.einsum("bnts,tsh->btnh", attention, rel)
        coefficient = self.phi_x(v)[..., 0]  # [B, S, N]
        diff = x[:, :, None] - x[:, None, :]  # [B, T, S, N, 3] = x_t - x_s
        weights = attention.permute(0, 2, 3, 1) * coefficient[:, None]  # [B, T, S, N]
        x = x + (diff * weights[..., None]).sum(2)
        return x, h + update


class SpatioTemporalBlock(nn.Module):
    """A spatial layer followed by a temporal layer. Shapes as :class:`SpatialLayer`."""

    def __init__(self, hidden: int, edge_dim: int, time_dim: int = 32):
        super().__init__()
        self.spatial = SpatialLayer(hidden, edge_dim)
        self.temporal = TemporalLayer(hidden, time_dim)

    def forward(self, x: Tensor, h: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        x, h = self.spatial(x, h, e)
        return self.temporal(x, h)


def off_diagonal(pairs: Tensor) -> Tensor:
    """The entries j != i of every row i of a pair tensor, in order: ``[..., N, N, C] -> [..., N, N-1, C]``.

    Views only plus one copy (no gather): dropping the first of the N^2 flattened entries puts every diagonal
    entry at the end of a row of N + 1.
    """
    *lead, N, _, C = pairs.shape
    rows = pairs.reshape(*lead, N * N, C)[..., 1:, :].reshape(*lead, N - 1, N + 1, C)
    return rows[..., :N, :].reshape(*lead, N, N - 1, C)


def pair_attributes(node_features: Tensor) -> Tensor:
    """Static pair attributes e_ij = f_i * f_j (for charges: q_i q_j). ``[B, N, F] -> [B, N, N, F]``."""
    return node_features[:, :, None, :] * node_features[:, None, :, :]
