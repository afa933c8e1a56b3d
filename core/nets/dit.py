"""Diffusion Transformer with adaLN-zero conditioning on token sets (Peebles & Xie 2023, "Scalable
Diffusion Models with Transformers", sec. 3.2).

Tokens form a set: there is no positional encoding unless per-token positional features are given, so
the network is permutation-equivariant over tokens. Sets of different sizes are padded to L tokens and
described by ``mask [B, L]`` (True = real token); padded tokens are never attended to and output zero.
Call: ``model(x_t [B, L, in_dim], t [B], cond) -> [B, L, out_dim]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genforge.core.nets.embeddings import TimestepEmbedder


@dataclass(frozen=True)
class DiTConfig:
    """Architecture of a :class:`DiT`.

    Attributes:
        hidden: token width.
        depth: number of transformer blocks.
        heads: attention heads (must divide ``hidden``).
        mlp_ratio: MLP width as a multiple of ``hidden``.
        in_dim: per-token input features.
        out_dim: per-token outputs.
        num_classes: number of labels for class conditioning (0 = unconditional); label ``num_classes`` is
            the learned null label used for classifier-free guidance.
        pos_dim: width of optional additive per-token positional features (0 = none).
    """

    hidden: int = 256
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 4.0
    in_dim: int = 8
    out_dim: int = 8
    num_classes: int = 0
    pos_dim: int = 0


@dataclass(frozen=True)
class TokenConditioning:
    """Conditioning of a DiT call.

    Attributes:
        labels: ``[B]`` long in [0, num_classes]; ``num_classes`` is the null label. None = null label.
        mask: ``[B, L]`` bool, True for real tokens. None = all tokens real.
        pos: ``[B, L, pos_dim]`` positional features added after the input projection.
    """

    labels: Tensor | None = None
    mask: Tensor | None = None
    pos: Tensor | None = None


def drop_labels(labels: Tensor, num_classes: int, probability: float,
                generator: torch.Generator | None = None) -> Tensor:
    """Classifier-free guidance training: replace each label by the null label with ``probability``."""
    drop = torch.rand(labels.shape, generator=generator, device=labels.device) < probability
    return torch.where(drop, torch.full_like(labels, num_classes), labels)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN modulation x (1 + scale) + shift; x ``[B, L, H]``, shift and scale ``[B, 1, H]``."""
    return torch.addcmul(shift, x, 1.0 + scale)


class DiTBlock(nn.Module):
    """Pre-norm transformer block whose norms are modulated by the conditioning vector (adaLN-zero).

    The six modulation vectors (shift, scale, gate for attention and MLP) come from one zero-initialised
    linear map of c, so the gates start at 0 and the block starts as the identity.
    """

    def __init__(self, hidden: int, heads: int, mlp_ratio: float):
        super().__init__()
        self.heads = heads
        self.norm_attention = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.projection = nn.Linear(hidden, hidden)
        self.norm_mlp = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        mlp_hidden = int(hidden * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(hidden, mlp_hidden), nn.GELU(approximate="tanh"),
                                 nn.Linear(mlp_hidden, hidden))
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 6 * hidden))

    def attention(self, x: Tensor, attn_mask: Tensor | None) -> Tensor:
        """Multi-head self-attention; ``attn_mask [B, 1, 1, L]`` bool, True = may be attended to."""
        batch, length, hidden = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
        return self.projection(out.transpose(1, 2).reshape(batch, length, hidden))

    def forward(self, x: Tensor, c: Tensor, attn_mask: Tensor | None) -> Tensor:
        shift_a, scale_a, gate_a, shift_m, scale_m, gate_m = self.modulation(c).unsqueeze(1).chunk(6, dim=-1)
        x = x + gate_a * self.attention(modulate(self.norm_attention(x), shift_a, scale_a), attn_mask)
        return x + gate_m * self.mlp(modulate(self.norm_mlp(x), shift_m, scale_m))


class FinalLayer(nn.Module):
    """adaLN-modulated norm and a zero-initialised linear map to the outputs."""

    def __init__(self, hidden: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-6)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(hidden, 2 * hidden))
        self.linear = nn.Linear(hidden, out_dim)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.modulation(c).unsqueeze(1).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))


class DiT(nn.Module):
    """Diffusion Transformer over token sets (see module docstring).

    Args:
        config: the architecture.

    Shapes:
        x_t ``[B, L, in_dim]``, t ``[B]`` in [0, 1], cond a :class:`TokenConditioning`, a label tensor
        ``[B]`` (long) or None -> ``[B, L, out_dim]``.
    """

    def __init__(self, config: DiTConfig):
        super().__init__()
        if config.hidden % config.heads:
            raise ValueError(f"hidden={config.hidden} is not divisible by heads={config.heads}")
        self.config = config
        self.input_projection = nn.Linear(config.in_dim, config.hidden)
        self.pos_projection = nn.Linear(config.pos_dim, config.hidden) if config.pos_dim else None
        self.time_embedder = TimestepEmbedder(config.hidden)
        self.label_embedding = (nn.Embedding(config.num_classes + 1, config.hidden)
                                if config.num_classes else None)
        self.blocks = nn.ModuleList(DiTBlock(config.hidden, config.heads, config.mlp_ratio)
                                    for _ in range(config.depth))
        self.final_layer = FinalLayer(config.hidden, config.out_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """DiT initialisation: Xavier linears, N(0, 0.02) embeddings, zero adaLN and output layers."""
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(module.bias)
        for linear in (self.time_embedder.mlp[0], self.time_embedder.mlp[2]):
            nn.init.normal_(linear.weight, std=0.02)
        if self.label_embedding is not None:
            nn.init.normal_(self.label_embedding.weight, std=0.02)
        for modulation in [block.modulation[1] for block in self.blocks] + [self.final_layer.modulation[1]]:
            nn.init.zeros_(modulation.weight)
            nn.init.zeros_(modulation.bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    def forward(self, x_t: Tensor, t: Tensor, cond: TokenConditioning | Tensor | None = None) -> Tensor:
        if not isinstance(cond, TokenConditioning):
            cond = TokenConditioning(labels=cond)
        x = self.input_projection(x_t)
        if self.pos_projection is not None:
            if cond.pos is None:
                raise ValueError(f"this DiT expects cond.pos [B, L, {self.config.pos_dim}]")
            x = x + self.pos_projection(cond.pos)
        c = self.time_embedder(t)
        if self.label_embedding is not None:
            labels = cond.labels
            if labels is None:
                labels = torch.full((x.shape[0],), self.config.num_classes, dtype=torch.long, device=x.device)
            c = c + self.label_embedding(labels)
        attn_mask = None if cond.mask is None else cond.mask[:, None, None, :]
        for block in self.blocks:
            x = block(x, c, attn_mask)
        out = self.final_layer(x, c)
        return out if cond.mask is None else out * cond.mask.unsqueeze(-1).to(out.dtype)
