"""Minibatch OT coupling: exact assignment against brute force, weighted plans, plan sampling."""

from __future__ import annotations

import itertools

import pytest
import torch

from genforge.core.processes.coupling import ot_pair, ot_permutation, ot_plan, sample_plan, squared_distances

F64 = torch.float64


def _cost(x0: torch.Tensor, x1: torch.Tensor) -> float:
    return float((x0 - x1).reshape(x0.shape[0], -1).square().sum())


def test_assignment_beats_identity_and_equals_brute_force() -> None:
    generator = torch.Generator().manual_seed(0)
    for _ in range(5):
        x0 = torch.randn(6, 2, 2, generator=generator, dtype=F64)
        x1 = torch.randn(6, 2, 2, generator=generator, dtype=F64)
        perm = ot_permutation(x0, x1)
        assert torch.equal(perm.sort().values, torch.arange(6))
        best = min(_cost(x0, x1[list(order)]) for order in itertools.permutations(range(6)))
        assert abs(_cost(x0, x1[perm]) - best) < 1e-12
        assert _cost(x0, ot_pair(x0, x1)) <= _cost(x0, x1) + 1e-12


def test_uniform_plan_is_the_assignment() -> None:
    generator = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(8, 3, generator=generator), torch.randn(8, 3, generator=generator)
    plan = ot_plan(x0, x1)
    expected = torch.zeros(8, 8, dtype=F64)
    expected[torch.arange(8), ot_permutation(x0, x1)] = 1.0 / 8
    assert torch.allclose(plan, expected, atol=1e-12)


def test_weighted_plan_has_the_marginals_and_beats_independence() -> None:
    generator = torch.Generator().manual_seed(2)
    x0, x1 = torch.randn(5, 2, generator=generator), torch.randn(7, 2, generator=generator)
    weights0, weights1 = torch.rand(5, generator=generator) + 0.1, torch.rand(7, generator=generator) + 0.1
    plan = ot_plan(x0, x1, weights0, weights1)
    assert torch.allclose(plan.sum(1), (weights0 / weights0.sum()).double(), atol=1e-9)
    assert torch.allclose(plan.sum(0), (weights1 / weights1.sum()).double(), atol=1e-9)
    cost = squared_distances(x0, x1)
    independent = torch.outer(plan.sum(1), plan.sum(0))
    assert float((plan * cost).sum()) <= float((independent * cost).sum())


def test_sampled_pairs_follow_the_plan() -> None:
    plan = torch.tensor([[0.5, 0.0], [0.1, 0.4]], dtype=F64)
    rows, cols = sample_plan(plan, 40000, torch.Generator().manual_seed(3))
    frequencies = torch.zeros(2, 2, dtype=F64).index_put_((rows, cols), torch.ones(40000, dtype=F64),
                                                          accumulate=True) / 40000
    assert torch.allclose(frequencies, plan, atol=0.01)
    assert float(frequencies[0, 1]) == 0.0


def test_assignment_needs_equal_batches() -> None:
    with pytest.raises(ValueError, match="equal batch sizes"):
        ot_permutation(torch.zeros(3, 2), torch.zeros(4, 2))
