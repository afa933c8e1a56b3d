"""e3nn convolution and vector head: E(3), permutation and periodic equivariance.

Modules built in float32 and cast with ``.double()`` keep float32-rounded Clebsch-Gordan constants,
so the float64 errors are ~1e-9 rather than round-off.
"""

from __future__ import annotations

import torch
from torch import nn

from genforge.core.geometry.lattice import lattice_params_to_matrix
from genforge.core.nets.edges import edge_vectors, graph_edges
from genforge.core.nets.equivariant import EquivariantConvolution, EquivariantVectorHead
from genforge.core.nets.init import seeded
from genforge.core.testing.equivariance import (
    GeometricOutputs,
    assert_periodic_invariant,
    assert_permutation_equivariant,
    assert_se3_equivariant,
)

F64 = torch.float64
BATCH = torch.tensor([0] * 6 + [1] * 5)
CUTOFF = 4.0


class TinyEquivariantNet(nn.Module):
    """Two convolutions (scalars -> scalars, vectors, l=2 -> scalars, vectors) and a vector head."""

    def __init__(self) -> None:
        super().__init__()
        self.first = EquivariantConvolution("3x0e", "4x0e + 2x1o + 1x2e", cutoff=CUTOFF)
        self.second = EquivariantConvolution("4x0e + 2x1o + 1x2e", "2x0e + 2x1o", cutoff=CUTOFF)
        self.head = EquivariantVectorHead("2x0e + 2x1o", num_vectors=2)

    def forward(self, h: torch.Tensor, pos: torch.Tensor,
                cell: torch.Tensor | None = None) -> GeometricOutputs:
        edge_index = graph_edges(pos, BATCH, cutoff=CUTOFF, cell=cell)
        _, edge_vec = edge_vectors(pos, edge_index, cell=cell, batch=BATCH)
        features = self.second(self.first(h, edge_index, edge_vec), edge_index, edge_vec)
        return GeometricOutputs(invariants=features[:, :2], vectors=self.head(features))


def _net() -> TinyEquivariantNet:
    with seeded(0):
        return TinyEquivariantNet().double()


def _species(seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return nn.functional.one_hot(torch.randint(0, 3, (11,), generator=generator), 3).to(F64)


def test_convolution_is_se3_and_permutation_equivariant() -> None:
    net, h = _net(), _species(1)
    pos = 1.5 * torch.randn(11, 3, generator=torch.Generator().manual_seed(2), dtype=F64)
    reference = net(h, pos)
    assert reference.vectors.shape == (11, 2, 3)
    assert reference.vectors.abs().max() > 1e-4
    assert assert_se3_equivariant(lambda p: net(h, p), pos, batch=BATCH,
                                  generator=torch.Generator().manual_seed(3)) < 1e-8

    def per_node(hh: torch.Tensor, pp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = net(hh, pp)
        return out.invariants, out.vectors

    error = assert_permutation_equivariant(per_node, [h, pos], batch=BATCH,
                                           generator=torch.Generator().manual_seed(4))
    assert error < 1e-8


def test_convolution_on_periodic_edges_respects_the_lattice() -> None:
    net, h = _net(), _species(5)
    frac = torch.rand(11, 3, generator=torch.Generator().manual_seed(6), dtype=F64)
    angles = torch.deg2rad(torch.tensor([[85.0, 95.0, 100.0], [90.0, 90.0, 110.0]], dtype=F64))
    cell = lattice_params_to_matrix(torch.tensor([[8.5, 9.0, 8.8], [9.5, 9.0, 10.0]], dtype=F64), angles)
    assert net(h, frac, cell).vectors.abs().max() > 1e-4
    error = assert_periodic_invariant(lambda f, c: net(h, f, c), frac, cell, batch=BATCH,
                                      generator=torch.Generator().manual_seed(7))
    assert error < 1e-8
