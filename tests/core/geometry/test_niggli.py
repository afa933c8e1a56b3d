"""Niggli reduction: integer unimodular transform, the reduced-cell conditions, idempotence, and agreement
with pymatgen's reduction (lengths and angles) on random and skewed lattices."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.geometry.lattice import matrix_to_lattice_params
from genforge.core.geometry.niggli import niggli_reduce, niggli_reduce_batch


def random_skewed_cells(count: int, seed: int) -> torch.Tensor:
    """Right-handed cells: a random reduced-ish cell sheared by random integer unimodular matrices."""
    generator = torch.Generator().manual_seed(seed)
    base = torch.eye(3, dtype=torch.float64) * (3 + 4 * torch.rand(count, 3, 1, generator=generator,
                                                                     dtype=torch.float64))
    base = base + 0.8 * torch.randn(count, 3, 3, generator=generator, dtype=torch.float64)
    base = torch.where(torch.linalg.det(base)[:, None, None] < 0, -base, base)
    shear = torch.eye(3, dtype=torch.float64).repeat(count, 1, 1)
    for _ in range(3):
        step = torch.eye(3, dtype=torch.float64).repeat(count, 1, 1)
        rows, cols = torch.randint(0, 3, (2, count), generator=generator)
        factor = torch.randint(-2, 3, (count,), generator=generator).to(torch.float64)
        step[torch.arange(count), rows, (rows + 1 + cols % 2) % 3] = factor
        shear = step @ shear
    return shear @ base


def metric(cell: torch.Tensor) -> tuple[float, ...]:
    a, b, c = cell
    return float(a @ a), float(b @ b), float(c @ c), float(2 * b @ c), float(2 * a @ c), float(2 * a @ b)


def test_transform_is_integer_unimodular_and_maps_the_cell() -> None:
    cells = random_skewed_cells(40, seed=0)
    reduced, transforms = niggli_reduce_batch(cells)
    assert torch.equal(transforms, transforms.round())
    assert torch.allclose(torch.linalg.det(transforms), torch.ones(40, dtype=torch.float64))
    assert torch.allclose(reduced, transforms @ cells, atol=1e-10)


def test_reduced_cells_satisfy_the_niggli_conditions_and_are_fixed_points() -> None:
    for cell in random_skewed_cells(40, seed=1):
        reduced, _ = niggli_reduce(cell)
        a2, b2, c2, xi, eta, zeta = metric(reduced)
        eps = 1e-6 * max(a2, b2, c2)
        assert a2 <= b2 + eps and b2 <= c2 + eps
        assert abs(xi) <= b2 + eps and abs(eta) <= a2 + eps and abs(zeta) <= a2 + eps
        assert all(v > -eps for v in (xi, eta, zeta)) or all(v <= eps for v in (xi, eta, zeta))
        again, transform = niggli_reduce(reduced)
        assert torch.allclose(again, reduced, atol=1e-9) and torch.equal(transform, torch.eye(3, dtype=torch.float64))


def test_skewed_cell_is_reduced_to_its_short_basis() -> None:
    cubic = torch.eye(3, dtype=torch.float64) * 4.0
    skew = torch.tensor([[1.0, 3, 0], [0, 1, 0], [2, -1, 1]], dtype=torch.float64) @ cubic
    reduced, _ = niggli_reduce(skew)
    lengths, angles = matrix_to_lattice_params(reduced)
    assert torch.allclose(lengths, torch.full((3,), 4.0, dtype=torch.float64))
    assert torch.allclose(angles, torch.full((3,), math.pi / 2, dtype=torch.float64))


def test_agrees_with_pymatgen() -> None:
    pymatgen_core = pytest.importorskip("pymatgen.core")
    for cell in random_skewed_cells(30, seed=2):
        reduced, _ = niggli_reduce(cell)
        theirs = pymatgen_core.Lattice(cell.numpy()).get_niggli_reduced_lattice()
        ours = pymatgen_core.Lattice(reduced.numpy())
        assert ours.abc == pytest.approx(theirs.abc, abs=1e-6)
        assert ours.angles == pytest.approx(theirs.angles, abs=1e-4)


def test_singular_cell_is_rejected() -> None:
    with pytest.raises(ValueError, match="singular"):
        niggli_reduce(torch.tensor([[1.0, 0, 0], [2.0, 0, 0], [0, 0, 1]]))
