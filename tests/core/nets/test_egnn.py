"""EGNN: E(3) and permutation equivariance, periodic invariances, and the time-conditioned denoiser."""

from __future__ import annotations

import torch

from genforge.core.geometry.lattice import lattice_params_to_matrix
from genforge.core.nets.egnn import EGNN, EGNNDenoiser
from genforge.core.nets.init import seeded
from genforge.core.testing.equivariance import (
    GeometricOutputs,
    assert_periodic_invariant,
    assert_permutation_equivariant,
    assert_se3_equivariant,
)

F64 = torch.float64
BATCH = torch.tensor([0] * 5 + [1] * 7)


def _graphs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(12, 4, generator=generator, dtype=F64),
            1.5 * torch.randn(12, 3, generator=generator, dtype=F64))


def _egnn(cutoff: float | None = None) -> EGNN:
    with seeded(1):
        return EGNN(4, 16, 3, num_layers=3, cutoff=cutoff).double()


def _crystals(seed: int = 2) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([[6.0, 7.0, 6.5], [7.5, 6.0, 8.0]], dtype=F64)
    angles = torch.deg2rad(torch.tensor([[80.0, 95.0, 100.0], [90.0, 90.0, 120.0]], dtype=F64))
    return (torch.randn(12, 4, generator=generator, dtype=F64),
            torch.rand(12, 3, generator=generator, dtype=F64), lattice_params_to_matrix(lengths, angles))


def test_egnn_is_se3_equivariant() -> None:
    h, pos = _graphs()
    for cutoff in (None, 3.0):
        model = _egnn(cutoff)

        def fn(p: torch.Tensor, model: EGNN = model) -> GeometricOutputs:
            h_out, x_out = model(h, p, BATCH)
            return GeometricOutputs(invariants=h_out, positions=x_out)

        reference = fn(pos)
        assert (reference.positions - pos).abs().max() > 1e-6
        error = assert_se3_equivariant(fn, pos, batch=BATCH, generator=torch.Generator().manual_seed(3))
        assert error < 1e-10


def test_egnn_is_permutation_equivariant() -> None:
    h, pos = _graphs()
    model = _egnn(3.0)
    error = assert_permutation_equivariant(lambda hh, pp: model(hh, pp, BATCH), [h, pos], batch=BATCH,
                                           generator=torch.Generator().manual_seed(4))
    assert error < 1e-10


def test_periodic_egnn_is_invariant_to_lattice_shifts_rotations_and_permutations() -> None:
    h, frac, cell = _crystals()
    model = _egnn(4.0)

    def fn(f: torch.Tensor, c: torch.Tensor) -> GeometricOutputs:
        h_out, frac_out = model(h, f, BATCH, cell=c)
        return GeometricOutputs(invariants=h_out, positions=frac_out)

    reference = fn(frac, cell)
    assert ((reference.positions >= 0) & (reference.positions < 1)).all()
    error = assert_periodic_invariant(fn, frac, cell, batch=BATCH, generator=torch.Generator().manual_seed(5))
    assert error < 1e-10
    error = assert_permutation_equivariant(lambda hh, ff: model(hh, ff, BATCH, cell=cell), [h, frac],
                                           batch=BATCH, generator=torch.Generator().manual_seed(6))
    assert error < 1e-10


def test_periodic_egnn_matches_the_open_egnn_when_no_edge_crosses_the_boundary() -> None:
    """Atoms in the middle of a large cell: the minimum image is the direct difference."""
    h, _ = _graphs()
    generator = torch.Generator().manual_seed(7)
    frac = 0.4 + 0.2 * torch.rand(12, 3, generator=generator, dtype=F64)
    cell = lattice_params_to_matrix(torch.full((2, 3), 20.0, dtype=F64),
                                    torch.deg2rad(torch.full((2, 3), 85.0, dtype=F64)))
    cart = torch.einsum("ni,nij->nj", frac, cell[BATCH])
    model = _egnn()
    h_periodic, frac_out = model(h, frac, BATCH, cell=cell)
    h_open, cart_out = model(h, cart, BATCH)
    assert torch.allclose(h_periodic, h_open, atol=1e-10)
    assert torch.allclose(torch.einsum("ni,nij->nj", frac_out, cell[BATCH]), cart_out, atol=1e-10)


def test_denoiser_outputs_are_equivariant_and_centre_of_mass_free() -> None:
    h, pos = _graphs(8)
    t = torch.tensor([0.3, 0.8], dtype=F64)
    with seeded(9):
        model = EGNNDenoiser(4, 16, 2, cond_dim=2).double()
    cond = torch.randn(2, 2, generator=torch.Generator().manual_seed(10), dtype=F64)

    def fn(p: torch.Tensor) -> GeometricOutputs:
        eps_h, eps_x = model(h, p, t, BATCH, cond=cond)
        return GeometricOutputs(invariants=eps_h, vectors=eps_x)

    eps_x = fn(pos).vectors
    assert eps_x.abs().max() > 1e-6
    graph_sums = torch.zeros(2, 3, dtype=F64).index_add_(0, BATCH, eps_x)
    assert torch.allclose(graph_sums, torch.zeros(2, 3, dtype=F64), atol=1e-12)
    error = assert_se3_equivariant(fn, pos, batch=BATCH, generator=torch.Generator().manual_seed(11))
    assert error < 1e-10
    error = assert_permutation_equivariant(lambda hh, pp: model(hh, pp, t, BATCH, cond=cond), [h, pos],
                                           batch=BATCH, generator=torch.Generator().manual_seed(12))
    assert error < 1e-10
    assert not torch.allclose(model(h, pos, t.flip(0), BATCH, cond=cond)[0], fn(pos).invariants, atol=1e-6)


def test_periodic_denoiser_displacements_are_lattice_invariant() -> None:
    h, frac, cell = _crystals(13)
    t = torch.tensor([0.5, 0.2], dtype=F64)
    with seeded(14):
        model = EGNNDenoiser(4, 16, 2, cutoff=4.0).double()

    def fn(f: torch.Tensor, c: torch.Tensor) -> GeometricOutputs:
        eps_h, eps_frac = model(h, f, t, BATCH, cell=c)
        return GeometricOutputs(invariants=torch.cat([eps_h, eps_frac], dim=-1))

    assert fn(frac, cell).invariants[:, 4:].abs().max() > 1e-8
    generator = torch.Generator().manual_seed(15)
    error = assert_periodic_invariant(fn, frac, cell, batch=BATCH, generator=generator)
    assert error < 1e-10


def test_edge_attributes_enter_the_messages_and_keep_equivariance() -> None:
    h, pos = _graphs(16)
    edge_index = torch.tensor([[0, 1, 1, 2, 5, 6, 7, 8], [1, 0, 2, 1, 6, 5, 8, 7]])
    bonds = torch.nn.functional.one_hot(torch.tensor([0, 0, 1, 1, 0, 0, 1, 1]), 2).to(F64)
    with seeded(17):
        model = EGNN(4, 16, 3, num_layers=2, edge_attr_dim=2).double()

    def fn(p: torch.Tensor, attr: torch.Tensor = bonds) -> GeometricOutputs:
        h_out, x_out = model(h, p, BATCH, edge_index=edge_index, edge_attr=attr)
        return GeometricOutputs(invariants=h_out, positions=x_out)

    assert not torch.allclose(fn(pos).invariants, fn(pos, bonds.flip(-1)).invariants, atol=1e-6)
    error = assert_se3_equivariant(fn, pos, batch=BATCH, generator=torch.Generator().manual_seed(18))
    assert error < 1e-10
