"""The flow loss's options: duplicated conditions, the two-draw variance term, the jittered bridge source."""

from __future__ import annotations

import pytest
import torch
from _ts_synthetic import synthetic_reactions

from genforge.core.geometry.com import graph_mean
from genforge.domains.transition_states.flow import (
    aligned_reactions,
    flow_loss,
    repeat_condition,
    source,
)


def test_repeat_condition_stacks_sorted_copies_of_every_reaction() -> None:
    _, cond = aligned_reactions(synthetic_reactions(3, 0))
    twice = repeat_condition(cond, 2)
    n = cond.batch.shape[0]
    assert twice.num_graphs == 6 and torch.equal(twice.batch[:n], cond.batch)
    assert torch.equal(twice.batch[n:], cond.batch + 3) and bool((twice.batch.diff() >= 0).all())
    assert torch.equal(twice.midpoint[n:], cond.midpoint) and torch.equal(twice.species[n:], cond.species)


@pytest.mark.parametrize("variant", ["tsgen", "reactot"])
def test_variance_term_is_zero_for_a_source_blind_model_and_adds_the_spread_otherwise(variant: str) -> None:
    aligned, _ = aligned_reactions(synthetic_reactions(6, 1))
    plain, with_term = flow_loss(variant, source_jitter=0.3), flow_loss(variant, source_jitter=0.3,
                                                                         noise_invariance=2.0)

    def blind(x_t: torch.Tensor, t: torch.Tensor, cond) -> torch.Tensor:  # type: ignore[no-untyped-def]
        return cond.midpoint

    loss, metrics = with_term(blind, aligned, torch.Generator().manual_seed(0))
    reference, _ = plain(blind, aligned, torch.Generator().manual_seed(0))
    assert float(metrics["var"]) == 0.0
    assert torch.allclose(loss, reference)  # MSE of the midpoint, whatever the times drawn

    def follows_x_t(x_t: torch.Tensor, t: torch.Tensor, cond) -> torch.Tensor:  # type: ignore[no-untyped-def]
        follows_x_t.calls.append(x_t)  # type: ignore[attr-defined]
        return x_t

    follows_x_t.calls = []  # type: ignore[attr-defined]
    loss, metrics = with_term(follows_x_t, aligned, torch.Generator().manual_seed(0))
    x_t = follows_x_t.calls[0]  # type: ignore[attr-defined]
    first, second = x_t.chunk(2)
    n = len(aligned)
    spread = graph_mean((first - second).square().sum(-1, keepdim=True), aligned.batch, n).mean() / 3.0
    assert float(metrics["var"]) > 0.0 and torch.allclose(metrics["var"], spread)
    error = (x_t - aligned.pos_ts.repeat(2, 1)).square().sum(-1, keepdim=True) / 3.0
    mse = graph_mean(error, torch.cat([aligned.batch, aligned.batch + n]), 2 * n).mean()
    assert torch.allclose(loss, mse + 2.0 * spread)


def test_reactot_source_is_the_midpoint_at_sampling_and_jittered_in_training() -> None:
    _, cond = aligned_reactions(synthetic_reactions(200, 2))
    assert torch.equal(source("reactot", cond), cond.midpoint)
    jitter = source("reactot", cond, torch.Generator().manual_seed(0), jitter=0.5) - cond.midpoint
    assert graph_mean(jitter, cond.batch, cond.num_graphs).abs().max() < 1e-5  # CoM-free: the TS's CoM is M's
    assert 0.4 < float(jitter.std()) < 0.5  # CoM removal shrinks the per-coordinate std by sqrt(1 - 1/n)
