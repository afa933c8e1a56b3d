"""E(3)-equivariant point convolution with e3nn tensor products (NequIP, Batzner et al. 2022, eq. 3;
Thomas et al. 2018, Tensor Field Networks) and an equivariant vector head.

Convolution for receiver i and senders j with edge vector r_ij = x_i - x_j (Cartesian, Angstrom):
    h_i' = Linear(h_i) + 1/sqrt(n_avg) sum_j TP(h_j, Y(r_ij / |r_ij|); W(B(|r_ij|)))
with Y the spherical harmonics up to ``lmax``, B a smooth radial basis vanishing at the cutoff and W an
MLP giving the tensor-product weights of each edge. Features are e3nn irreps tensors ``[N, irreps.dim]``.
"""

from __future__ import annotations

from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import FullyConnectedNet
from torch import Tensor, nn
from torch.nn import functional as F
from torch_geometric.nn import MessagePassing


class EquivariantConvolution(MessagePassing):
    """NequIP-style interaction: spherical-harmonic filters with radial-MLP weights (module docstring).

    Args:
        irreps_in: irreps of the input node features, e.g. ``"8x0e"``.
        irreps_out: irreps of the output node features, e.g. ``"8x0e + 4x1o + 2x2e"``.
        lmax: highest spherical-harmonic degree of the edge filters.
        cutoff: radius (Angstrom) at which the radial basis vanishes.
        num_radial: size of the radial basis.
        radial_hidden: hidden width of the radial MLP.
        avg_neighbours: n_avg in the 1/sqrt(n_avg) normalisation of the neighbour sum.

    Shapes:
        h ``[N, irreps_in.dim]``, edge_index ``[2, E]`` (sender, receiver), edge_vec ``[E, 3]`` (x_i - x_j)
        -> ``[N, irreps_out.dim]``.
    """

    def __init__(self, irreps_in: str | o3.Irreps, irreps_out: str | o3.Irreps, *, lmax: int = 2,
                 cutoff: float = 5.0, num_radial: int = 8, radial_hidden: int = 32,
                 avg_neighbours: float = 10.0):
        super().__init__(aggr="add")
        self.irreps_in, self.irreps_out = o3.Irreps(irreps_in), o3.Irreps(irreps_out)
        self.irreps_sh = o3.Irreps.spherical_harmonics(lmax)
        self.cutoff, self.num_radial = cutoff, num_radial
        self.neighbour_norm = avg_neighbours ** -0.5
        self.tensor_product = o3.FullyConnectedTensorProduct(self.irreps_in, self.irreps_sh, self.irreps_out,
                                                             shared_weights=False, internal_weights=False)
        self.radial = FullyConnectedNet([num_radial, radial_hidden, self.tensor_product.weight_numel], F.silu)
        self.self_interaction = o3.Linear(self.irreps_in, self.irreps_out)

    def forward(self, h: Tensor, edge_index: Tensor, edge_vec: Tensor) -> Tensor:
        sh = o3.spherical_harmonics(self.irreps_sh, edge_vec, normalize=True, normalization="component")
        basis = soft_one_hot_linspace(edge_vec.norm(dim=-1), 0.0, self.cutoff, self.num_radial,
                                      basis="smooth_finite", cutoff=True) * self.num_radial ** 0.5
        weights = self.radial(basis)
        neighbours = self.propagate(edge_index, h=h, sh=sh, weights=weights)
        return self.self_interaction(h) + self.neighbour_norm * neighbours

    def message(self, h_j: Tensor, sh: Tensor, weights: Tensor) -> Tensor:
        return self.tensor_product(h_j, sh, weights)


class EquivariantVectorHead(nn.Module):
    """Equivariant linear map from irreps features to ``num_vectors`` Cartesian vectors per node.

    e3nn (>= 0.5) orders the components of an ``1o`` irrep as (x, y, z), so the output is Cartesian.

    Shapes: ``[N, irreps_in.dim]`` -> ``[N, num_vectors, 3]``.
    """

    def __init__(self, irreps_in: str | o3.Irreps, num_vectors: int = 1):
        super().__init__()
        self.num_vectors = num_vectors
        self.linear = o3.Linear(o3.Irreps(irreps_in), o3.Irreps(f"{num_vectors}x1o"))

    def forward(self, h: Tensor) -> Tensor:
        return self.linear(h).reshape(h.shape[0], self.num_vectors, 3)
