r"""GeoTDM (Han et al. 2024, "Geometric Trajectory Diffusion Models"): an equivariant spatio-temporal
denoiser with a learnable equivariant prior for forecasting.

Conditional mode (forecasting ``Tf`` frames from ``Tc`` observed ones): the prior mean is an equivariant
weighted combination of the conditioning frames (sec. 3.3),

.. math:: \hat x_s = \sum_{k<T_c} W_{ks}\, x^{c}_k, \qquad W_{T_c-1,s} = 1 - \sum_{k<T_c-1} W_{ks},

with invariant weights W (per particle) read out from a small EGTN over the conditioning frames (initialised
to constant-velocity extrapolation, W_{Tc-2,s} = -s, W_{Tc-1,s} = 1 + s); weights
summing to one make the prior translation equivariant and, as W is invariant, rotation equivariant. The
diffusion runs on the residual r = x_future - x_hat with a plain Gaussian path; the denoiser sees the
absolute frames [x^c, r_t + x_hat] and moves them; the displacement D of the future frames is its output.

Unconditional mode (whole trajectories): noise and prediction are centre-of-mass free over all T x N
points (Hoogeboom et al. 2022), the model is translation invariant.

Output: the raw network returns the displacement D of the future frames (translation invariant,
rotation equivariant); :class:`~genforge.domains.trajectories.diffusion.Preconditioned` turns it into x0
with EDM-style skip weights (the paper predicts eps with the same network; see diffusion.py).

Call convention: ``model(x_t [B, Tf, N, 3], t [B], cond: TrajCondition) -> D [B, Tf, N, 3]``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from genforge.core.nets.embeddings import sinusoidal_embedding
from genforge.domains.trajectories.layers import SpatioTemporalBlock, pair_attributes


@dataclass(frozen=True)
class TrajCondition:
    """What a trajectory model is conditioned on.

    Attributes:
        node_features: ``[B, N, F]`` invariant per-particle features (charges, one-hot elements).
        x_cond: ``[B, Tc, N, 3]`` observed frames (None in unconditional mode).
        x_ref: ``[B, Tf, N, 3]`` precomputed prior mean (sampling caches it; None = compute it).
    """

    node_features: Tensor
    x_cond: Tensor | None = None
    x_ref: Tensor | None = None

    def repeat(self, k: int) -> TrajCondition:
        """Every system repeated ``k`` times consecutively along the batch (for K samples each)."""
        def rep(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.repeat_interleave(k, dim=0)
        return TrajCondition(rep(self.node_features), rep(self.x_cond), rep(self.x_ref))  # type: ignore[arg-type]

    def to(self, device: torch.device | str) -> TrajCondition:
        """The same condition with its tensors on ``device``."""
        def move(x: Tensor | None) -> Tensor | None:
            return None if x is None else x.to(device)
        return TrajCondition(self.node_features.to(device), move(self.x_cond), move(self.x_ref))


@dataclass(frozen=True)
class GeoTDMConfig:
    """Architecture of :class:`GeoTDM`.

    Args:
        node_dim: width F of the per-particle features.
        hidden: width of invariant features.
        layers: spatio-temporal blocks of the denoiser.
        prior_layers: blocks of the prior network (0 = fixed prior: CoM of the conditioning frames).
        cond_frames: Tc (0 = unconditional generation).
        future_frames: Tf, the frames generated.
        time_dim: width of the sinusoidal embeddings (diffusion time and frame offsets).
    """

    node_dim: int = 1
    hidden: int = 64
    layers: int = 4
    prior_layers: int = 2
    cond_frames: int = 10
    future_frames: int = 20
    time_dim: int = 32


class EGTN(nn.Module):
    """Stack of spatio-temporal blocks between a linear embedding of invariant inputs.

    Shapes: x ``[B, T, N, 3]``, features ``[B, T, N, in_dim]``, e ``[B, N, N, E]`` -> (x, h ``[B, T, N, H]``).
    """

    def __init__(self, in_dim: int, hidden: int, edge_dim: int, layers: int, time_dim: int):
        super().__init__()
        self.embedding = nn.Linear(in_dim, hidden)
        self.blocks = nn.ModuleList(SpatioTemporalBlock(hidden, edge_dim, time_dim) for _ in range(layers))

    def forward(self, x: Tensor, features: Tensor, e: Tensor) -> tuple[Tensor, Tensor]:
        h = self.embedding(features)
        for block in self.blocks:
            x, h = block(x, h, e)
        return x, h


def _broadcast_nodes(node_features: Tensor, frames: int) -> Tensor:
    """``[B, N, F] -> [B, T, N, F]``."""
    return node_features[:, None].expand(-1, frames, -1, -1)


class EquivariantPrior(nn.Module):
    """Learnable prior mean: invariant weights over the conditioning frames (module docstring).

    The weight head starts with zero weights and a bias giving the second-to-last frame weight -s for future
    frame s (s = 1 .. Tf), so the initial prior is the constant-velocity extrapolation
    x_{Tc-1} + s (x_{Tc-1} - x_{Tc-2}), itself a weighted combination summing to one.
    Shapes: x_cond ``[B, Tc, N, 3]``, node_features ``[B, N, F]`` -> x_hat ``[B, Tf, N, 3]``.
    """

    def __init__(self, cfg: GeoTDMConfig):
        super().__init__()
        if cfg.cond_frames < 2:
            raise ValueError(f"the learnable prior needs >= 2 conditioning frames, got {cfg.cond_frames}")
        self.time_dim = cfg.time_dim
        self.net = EGTN(cfg.node_dim + cfg.time_dim, cfg.hidden, cfg.node_dim, cfg.prior_layers, cfg.time_dim)
        # the weights are read from the invariant features only, so the last block's coordinate heads never
        # reach the output: frozen, every trainable parameter gets a gradient (DDP needs no unused-parameter search)
        last = self.net.blocks[-1]
        last.spatial.phi_x.requires_grad_(False)
        last.temporal.phi_x.requires_grad_(False)
        self.head = nn.Linear(cfg.hidden, cfg.future_frames)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        bias = torch.zeros(cfg.cond_frames, cfg.future_frames)
        bias[-2] = -torch.arange(1, cfg.future_frames + 1, dtype=torch.float32)
        self.register_buffer("frame_bias", bias)

    def forward(self, x_cond: Tensor, node_features: Tensor) -> Tensor:
        B, Tc, N, _ = x_cond.shape
        index = torch.arange(Tc, dtype=x_cond.dtype, device=x_cond.device)
        position = sinusoidal_embedding(index, self.time_dim, scale=1.0)[None, :, None].expand(B, Tc, N, -1)
        features = torch.cat([_broadcast_nodes(node_features, Tc), position], dim=-1)
        _, h = self.net(x_cond, features, pair_attributes(node_features))
        weights = self.head(h) + self.frame_bias[None, :, None]  # [B, Tc, N, Tf]
        weights = torch.cat([weights[:, :-1], 1.0 - weights[:, :-1].sum(1, keepdim=True)], dim=1)
        return torch.einsum("bkns,bknd->bsnd", weights, x_cond)


class GeoTDM(nn.Module):
    """The GeoTDM network (displacement output) with its prior (module docstring).

    Args:
        cfg: the architecture.
    """

    def __init__(self, cfg: GeoTDMConfig):
        super().__init__()
        self.cfg = cfg
        in_dim = cfg.node_dim + cfg.time_dim + 1
        self.net = EGTN(in_dim, cfg.hidden, cfg.node_dim, cfg.layers, cfg.time_dim)
        self.prior_net = EquivariantPrior(cfg) if cfg.cond_frames and cfg.prior_layers else None

    @property
    def conditional(self) -> bool:
        return self.cfg.cond_frames > 0

    def prior(self, cond: TrajCondition) -> Tensor:
        """Prior mean ``[B, Tf, N, 3]`` of the future frames (conditional mode only)."""
        if cond.x_cond is None:
            raise ValueError("the prior needs the conditioning frames cond.x_cond")
        if cond.x_ref is not None:
            return cond.x_ref
        if self.prior_net is None:
            centre = cond.x_cond.mean(dim=(1, 2), keepdim=True)
            return centre.expand(-1, self.cfg.future_frames, cond.x_cond.shape[2], -1)
        return self.prior_net(cond.x_cond, cond.node_features)

    def with_prior(self, cond: TrajCondition) -> TrajCondition:
        """``cond`` with its prior mean cached (sampling calls the model many times with one prior)."""
        return replace(cond, x_ref=self.prior(cond)) if self.conditional else cond

    def forward(self, x_t: Tensor, t: Tensor, cond: TrajCondition) -> Tensor:
        B, Tf, N, _ = x_t.shape
        if self.conditional:
            x = torch.cat([cond.x_cond, x_t + self.prior(cond)], dim=1)  # type: ignore[list-item]
            flag = torch.cat([x_t.new_ones(B, self.cfg.cond_frames, N, 1), x_t.new_zeros(B, Tf, N, 1)], dim=1)
        else:
            x, flag = x_t, x_t.new_zeros(B, Tf, N, 1)
        T = x.shape[1]
        time = sinusoidal_embedding(t.to(x_t.dtype), self.cfg.time_dim)[:, None, None].expand(B, T, N, -1)
        features = torch.cat([_broadcast_nodes(cond.node_features, T), time, flag], dim=-1)
        x_out, _ = self.net(x, features, pair_attributes(cond.node_features))
        displacement = (x_out - x)[:, T - Tf:]
        if not self.conditional:
            displacement = displacement - displacement.mean(dim=(1, 2), keepdim=True)
        return displacement
