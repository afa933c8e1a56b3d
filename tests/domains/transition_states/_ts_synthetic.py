"""Synthetic reactions whose TS is not the midpoint: an 'early' TS 35 % of the way from R to P."""

from __future__ import annotations

import torch

from genforge.core.geometry.rotations import random_rotations
from genforge.datasets.rdb7 import ReactionBatch

EARLY = 0.35
"""TS = (1 - EARLY) R + EARLY P in the reactant's frame (before random rigid motions of P and TS)."""


def synthetic_reactions(num: int, seed: int, *, min_atoms: int = 4, max_atoms: int = 7) -> ReactionBatch:
    """``num`` reactions: R random, P = R + Gaussian displacements (0.8 A), TS as :data:`EARLY` says; P and
    TS are then rotated and shifted at random (the models must not depend on their frames)."""
    generator = torch.Generator().manual_seed(seed)
    counts = torch.randint(min_atoms, max_atoms + 1, (num,), generator=generator)
    batch = torch.repeat_interleave(torch.arange(num), counts)
    total = int(counts.sum())
    species = torch.tensor([1, 6, 7, 8])[torch.randint(0, 4, (total,), generator=generator)]
    reactant = 1.2 * torch.randn(total, 3, generator=generator, dtype=torch.float64)
    product = reactant + 0.8 * torch.randn(total, 3, generator=generator, dtype=torch.float64)
    ts = (1.0 - EARLY) * reactant + EARLY * product

    def move(x: torch.Tensor) -> torch.Tensor:
        rotation = random_rotations(num, generator, dtype=torch.float64)
        shift = 2.0 * torch.randn(num, 3, generator=generator, dtype=torch.float64)
        return torch.einsum("nij,nj->ni", rotation[batch], x) + shift[batch]

    ptr = torch.cat([torch.zeros(1, dtype=torch.long), counts.cumsum(0)])
    zeros = torch.zeros(num, dtype=torch.long)
    return ReactionBatch(species, reactant, move(ts), move(product), batch, ptr, torch.arange(num), zeros,
                         zeros + 1, torch.zeros(num, dtype=torch.float64))
