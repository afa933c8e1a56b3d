"""Generate TSs for checked reactant/product pairs with a packaged model (the CLI's engine)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from genforge.domains.transition_states.checkpoints import PackagedModel
from genforge.domains.transition_states.flow import generate
from genforge.domains.transition_states.io import ReactionPair


def generate_pairs(package: PackagedModel, pairs: Sequence[ReactionPair], *, steps: int | None = None,
                   seed: int = 0) -> list[Tensor]:
    """One TS ``[n_k, 3]`` (float64, Angstrom, reactant frame) per pair, all pairs in one batched solve."""
    counts = torch.tensor([pair.species.shape[0] for pair in pairs])
    batch = torch.repeat_interleave(torch.arange(len(pairs)), counts)
    positions = generate(package.model, package.variant, torch.cat([pair.species for pair in pairs]),
                         torch.cat([pair.reactant for pair in pairs]), torch.cat([pair.product for pair in pairs]),
                         batch, steps=steps or package.steps, solver=package.solver, seed=seed)
    return list(positions.double().split(counts.tolist()))
