"""Forecasting baselines trained at the same size and on the same data as GeoTDM.

* :class:`EGNNForecaster`: one-shot E(3)-equivariant regression. The future frames start from the
  constant-velocity extrapolation of the last two observed frames and a stack of EGNN layers (one graph
  per frame, no temporal attention) moves them; the invariant inputs carry the history (speeds of all
  observed steps), the particle features and the frame offset. Trained with MSE on positions. With
  ``velocity_gate`` the start is x_last + (s + phi_v(h)) v, phi_v an invariant MLP starting at zero (the
  learnt velocity scale of EGNN's eq. 7): on MD, where the last velocity is mostly aliased vibration, the
  network can then learn not to extrapolate it, which in-frame message passing alone cannot undo.
* :class:`TrajTransformer`: non-equivariant diffusion. A DiT (core.nets.dit) over the tokens
  particles x frames, coordinates as token inputs, particle features, frame index and an observed/future
  flag as additive token features; translation is removed by centring on the last observed frame's
  centre of mass and rotations are learnt from random-rotation augmentation. It diffuses the residual to
  the last observed frame (a fixed prior), returns a displacement like GeoTDM and shares its
  preconditioning, loss and sampler. With ``cond_frames = 0`` it generates whole trajectories
  unconditionally (tokens centred on their centre of mass, output CoM-free, like GeoTDM's generation mode).
* :func:`~genforge.domains.trajectories.metrics.constant_velocity` needs no training.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genforge.core.nets.dit import DiT, DiTConfig, TokenConditioning
from genforge.core.nets.embeddings import sinusoidal_embedding
from genforge.domains.trajectories.layers import SpatialLayer, pair_attributes
from genforge.domains.trajectories.metrics import constant_velocity
from genforge.domains.trajectories.model import TrajCondition


@dataclass(frozen=True)
class BaselineConfig:
    """Sizes of the baselines (match GeoTDM's ``hidden`` / ``layers`` for a fair comparison).

    Args:
        node_dim: width F of the per-particle features.
        hidden: width of invariant features / tokens.
        layers: EGNN layers or transformer blocks.
        cond_frames: Tc observed frames.
        future_frames: Tf forecast frames.
        time_dim: width of sinusoidal embeddings.
        heads: attention heads of the transformer.
        velocity_gate: EGNN only: learn an invariant scale of the velocity in the starting extrapolation.
    """

    node_dim: int = 1
    hidden: int = 64
    layers: int = 4
    cond_frames: int = 10
    future_frames: int = 20
    time_dim: int = 32
    heads: int = 4
    velocity_gate: bool = False


def _zero_head(hidden: int) -> nn.Sequential:
    """Invariant MLP hidden -> 1 whose output starts at exactly zero."""
    last = nn.Linear(hidden, 1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)


class EGNNForecaster(nn.Module):
    """One-shot equivariant regression: ``model(cond) -> future [B, Tf, N, 3]`` (module docstring)."""

    def __init__(self, cfg: BaselineConfig):
        super().__init__()
        self.cfg = cfg
        self.embedding = nn.Linear(cfg.node_dim + cfg.time_dim + cfg.cond_frames - 1, cfg.hidden)
        self.layers = nn.ModuleList(SpatialLayer(cfg.hidden, cfg.node_dim) for _ in range(cfg.layers))
        self.velocity_gate = _zero_head(cfg.hidden) if cfg.velocity_gate else None

    def forward(self, cond: TrajCondition) -> Tensor:
        x_cond, nodes = cond.x_cond, cond.node_features
        if x_cond is None:
            raise ValueError("the EGNN forecaster needs cond.x_cond")
        B, _, N, _ = x_cond.shape
        Tf = self.cfg.future_frames
        speeds = (x_cond[:, 1:] - x_cond[:, :-1]).norm(dim=-1).transpose(1, 2)  # [B, N, Tc - 1]
        offsets = torch.arange(1, Tf + 1, dtype=x_cond.dtype, device=x_cond.device)
        frame = sinusoidal_embedding(offsets, self.cfg.time_dim, scale=1.0)[None, :, None].expand(B, Tf, N, -1)
        per_node = torch.cat([nodes, speeds], dim=-1)[:, None].expand(B, Tf, N, -1)
        h = self.embedding(torch.cat([per_node, frame], dim=-1))
        x = constant_velocity(x_cond, Tf)
        if self.velocity_gate is not None:  # learnt invariant extra velocity scale [B, Tf, N, 1]
            x = x + self.velocity_gate(h) * (x_cond[:, -1:] - x_cond[:, -2:-1])
        e = pair_attributes(nodes)
        for layer in self.layers:
            x, h = layer(x, h, e)
        return x


class TrajTransformer(nn.Module):
    """Non-equivariant diffusion network ``model(x_t, t, cond) -> displacement`` over particle x frame tokens."""

    def __init__(self, cfg: BaselineConfig):
        super().__init__()
        self.cfg = cfg
        pos_dim = cfg.node_dim + cfg.time_dim + 1
        self.dit = DiT(DiTConfig(hidden=cfg.hidden, depth=cfg.layers, heads=cfg.heads, mlp_ratio=2.0, in_dim=3,
                                 out_dim=3, pos_dim=pos_dim))

    def prior(self, cond: TrajCondition) -> Tensor:
        """Fixed prior mean: the last observed frame repeated, ``[B, Tf, N, 3]``."""
        if cond.x_cond is None:
            raise ValueError("the transformer forecaster needs cond.x_cond")
        return cond.x_cond[:, -1:].expand(-1, self.cfg.future_frames, -1, -1)

    def with_prior(self, cond: TrajCondition) -> TrajCondition:
        return cond

    def forward(self, x_t: Tensor, t: Tensor, cond: TrajCondition) -> Tensor:
        B, Tf, N, _ = x_t.shape
        if cond.x_cond is None:  # unconditional: whole CoM-free trajectories
            x = x_t - x_t.mean(dim=(1, 2), keepdim=True)
            flag = x.new_zeros(B, Tf, N, 1)
        else:
            centre = cond.x_cond[:, -1].mean(dim=1)[:, None, None]
            x = torch.cat([cond.x_cond, x_t + self.prior(cond)], dim=1) - centre  # [B, T, N, 3]
            flag = torch.cat([x.new_ones(B, cond.x_cond.shape[1], N, 1), x.new_zeros(B, Tf, N, 1)], dim=1)
        T = x.shape[1]
        frames = sinusoidal_embedding(torch.arange(T, dtype=x.dtype, device=x.device), self.cfg.time_dim,
                                      scale=1.0)[None, :, None].expand(B, T, N, -1)
        nodes = cond.node_features[:, None].expand(B, T, N, -1)
        pos = torch.cat([nodes, frames, flag], dim=-1).reshape(B, T * N, -1)
        out = self.dit(x.reshape(B, T * N, 3), t, TokenConditioning(pos=pos)).reshape(B, T, N, 3)[:, T - Tf:]
        return out if cond.x_cond is not None else out - out.mean(dim=(1, 2), keepdim=True)
