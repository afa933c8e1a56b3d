"""Lattices: parameter and coordinate round trips, volume, wrapping, and agreement with pymatgen."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.geometry.lattice import (
    cart_to_frac,
    cell_volume,
    frac_to_cart,
    lattice_params_to_matrix,
    matrix_to_lattice_params,
    minimum_image_frac,
    wrap_frac,
)

F64 = torch.float64


def _random_params(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = 2.0 + 8.0 * torch.rand(n, 3, generator=generator, dtype=F64)
    angles = torch.deg2rad(70.0 + 40.0 * torch.rand(n, 3, generator=generator, dtype=F64))
    return lengths, angles


def test_params_matrix_round_trip() -> None:
    lengths, angles = _random_params(32, 0)
    recovered_lengths, recovered_angles = matrix_to_lattice_params(lattice_params_to_matrix(lengths, angles))
    assert torch.allclose(recovered_lengths, lengths, atol=1e-12)
    assert torch.allclose(recovered_angles, angles, atol=1e-10)


def test_volume_matches_closed_form() -> None:
    lengths, angles = _random_params(16, 1)
    cos = angles.cos()
    expected = lengths.prod(-1) * torch.sqrt(1 - cos.square().sum(-1) + 2 * cos.prod(-1))
    assert torch.allclose(cell_volume(lattice_params_to_matrix(lengths, angles)), expected, atol=1e-10)


def test_frac_cart_round_trip_with_batch_index() -> None:
    cells = lattice_params_to_matrix(*_random_params(3, 2))
    batch = torch.tensor([0, 0, 1, 1, 1, 2])
    frac = torch.rand(6, 3, generator=torch.Generator().manual_seed(3), dtype=F64)
    cart = frac_to_cart(frac, cells, batch)
    assert torch.allclose(cart[3], frac[3] @ cells[1], atol=1e-14)
    assert torch.allclose(cart_to_frac(cart, cells, batch), frac, atol=1e-12)
    assert torch.allclose(cart_to_frac(frac_to_cart(frac, cells[0]), cells[0]), frac, atol=1e-12)


def test_wrap_and_minimum_image() -> None:
    frac = torch.tensor([-0.25, 1.0, 2.75, -1e-18, 0.5], dtype=F64)
    assert torch.equal(wrap_frac(frac), torch.tensor([0.75, 0.0, 0.75, 0.0, 0.5], dtype=F64))
    diff = torch.tensor([0.7, -0.7, 2.2, 0.3], dtype=F64)
    image = minimum_image_frac(diff)
    assert torch.allclose(image, torch.tensor([-0.3, 0.3, 0.2, 0.3], dtype=F64), atol=1e-12)


def test_agrees_with_pymatgen() -> None:
    pymatgen_core = pytest.importorskip("pymatgen.core")
    lengths, angles = _random_params(4, 4)
    cells = lattice_params_to_matrix(lengths, angles)
    frac = torch.rand(4, 3, generator=torch.Generator().manual_seed(5), dtype=F64)
    for index in range(4):
        lattice = pymatgen_core.Lattice.from_parameters(*lengths[index].tolist(),
                                                        *[math.degrees(a) for a in angles[index].tolist()])
        assert torch.allclose(cells[index], torch.tensor(lattice.matrix), atol=1e-10)
        assert math.isclose(float(cell_volume(cells[index])), lattice.volume, rel_tol=1e-10)
        cart = lattice.get_cartesian_coords(frac[index].numpy())
        assert torch.allclose(frac_to_cart(frac[index], cells[index]), torch.tensor(cart), atol=1e-10)
