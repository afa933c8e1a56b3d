"""The equivariance checks accept exact equivariant functions and reject broken ones."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

from genforge.core.geometry.lattice import lattice_params_to_matrix, minimum_image_frac
from genforge.core.testing.equivariance import (
    GeometricOutputs,
    assert_periodic_invariant,
    assert_permutation_equivariant,
    assert_se3_equivariant,
    random_permutation_within_graphs,
)

F64 = torch.float64
BATCH = torch.tensor([0, 0, 0, 1, 1, 1, 1])


def _centred(pos: torch.Tensor) -> torch.Tensor:
    means = torch.zeros(2, 3, dtype=pos.dtype).index_add_(0, BATCH, pos) / torch.bincount(BATCH)[:, None]
    return pos - means[BATCH]


def _pos(seed: int = 0) -> torch.Tensor:
    return torch.randn(7, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _se3(fn: Callable[[torch.Tensor], GeometricOutputs]) -> float:
    return assert_se3_equivariant(fn, _pos(), batch=BATCH, generator=torch.Generator().manual_seed(1))


def test_se3_check_accepts_equivariant_outputs() -> None:
    def fn(pos: torch.Tensor) -> GeometricOutputs:
        centred = _centred(pos)
        return GeometricOutputs(invariants=centred.norm(dim=-1), positions=pos + 0.1 * centred,
                                vectors=torch.stack([centred, 2 * centred], 1))

    assert _se3(fn) < 1e-12


@pytest.mark.parametrize("broken", [
    lambda pos: GeometricOutputs(invariants=pos[:, 0]),
    lambda pos: GeometricOutputs(vectors=pos),
    lambda pos: GeometricOutputs(positions=pos + torch.tensor([1.0, 0.0, 0.0], dtype=F64)),
    lambda pos: GeometricOutputs(vectors=pos - pos.mean(0)),
])
def test_se3_check_rejects_broken_outputs(broken: Callable[[torch.Tensor], GeometricOutputs]) -> None:
    with pytest.raises(AssertionError):
        _se3(broken)


def test_permutation_within_graphs_keeps_membership() -> None:
    permutation = random_permutation_within_graphs(BATCH, torch.Generator().manual_seed(2))
    assert torch.equal(BATCH[permutation], BATCH)
    assert sorted(permutation.tolist()) == list(range(7))


def test_permutation_check() -> None:
    pos = _pos(3)
    graph_sum = lambda p: torch.zeros(2, 3, dtype=F64).index_add_(0, BATCH, p)  # noqa: E731
    error = assert_permutation_equivariant(lambda p: (_centred(p), graph_sum(p)), [pos], batch=BATCH,
                                           generator=torch.Generator().manual_seed(4))
    assert error < 1e-12
    with pytest.raises(AssertionError):
        assert_permutation_equivariant(lambda p: p.cumsum(0), [pos], batch=BATCH,
                                       generator=torch.Generator().manual_seed(4))


def test_periodic_check() -> None:
    frac = torch.rand(7, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
    cell = lattice_params_to_matrix(torch.tensor([[4.0, 5.0, 6.0], [5.0, 5.0, 7.0]], dtype=F64),
                                    torch.full((2, 3), math.pi / 2, dtype=F64))

    def good(f: torch.Tensor, c: torch.Tensor) -> GeometricOutputs:
        to_first = minimum_image_frac(f - f[torch.tensor([0, 0, 0, 3, 3, 3, 3])])
        return GeometricOutputs(invariants=torch.sin(2 * math.pi * f),
                                vectors=torch.einsum("ni,nij->nj", to_first, c[BATCH]), positions=f + 0.25)

    check = lambda fn: assert_periodic_invariant(fn, frac, cell, batch=BATCH,  # noqa: E731
                                                 generator=torch.Generator().manual_seed(6))
    assert check(good) < 1e-12
    with pytest.raises(AssertionError):
        check(lambda f, c: GeometricOutputs(invariants=f))
    with pytest.raises(AssertionError):
        check(lambda f, c: GeometricOutputs(vectors=torch.einsum("ni,nij->nj", f, c[BATCH])))
