r"""CSPNet: the periodic E(3)-invariant message-passing backbone of DiffCSP (Jiao et al. 2023) and CrysBFN.

Layer l over all ordered pairs (j -> i) of atoms inside one crystal (fully connected, no cutoff):

.. math::
    m_{ij} = \varphi_m(h_i, h_j, \mathrm{vec}(L L^\top) / s^2, \psi_{FT}(f_j - f_i)), \qquad
    h_i \leftarrow h_i + \varphi_h(h_i, \tfrac{1}{n_i - 1}\sum_j m_{ij})

with L the cell (lattice vectors as rows), s a fixed length scale, and the Fourier features
:math:`\psi_{FT}(d) = [\sin(2\pi k d), \cos(2\pi k d)]_{k=0}^{K-1}` of the fractional difference, so the
messages are invariant to integer shifts of any atom, to a common shift of all atoms and to rotations of the
cell (only inner products L L^T enter). Heads: a per-atom output ``[N, atom_out]`` (invariant) and either a
lattice output :math:`W(\bar h) L` ``[B, 3, 3]`` (W from the mean node feature, zero at initialisation),
equivariant to rotations L -> L R^T (DiffCSP's head), or, with ``graph_out``, an invariant per-crystal output
``[B, graph_out]`` from an MLP of the mean node feature (for rotation-free lattice parameters).
Atoms are concatenated along one axis with a sorted graph index ``batch`` (PyG style); no loop over atoms.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genforge.core.nets.edges import fully_connected_edges
from genforge.core.nets.mlp import MLP


def fractional_fourier_features(difference: Tensor, num_frequencies: int) -> Tensor:
    """``[E, 3] -> [E, 6 K]``: sin and cos of 2 pi k d for k = 0 .. K - 1, invariant to integer shifts."""
    multipliers = 2.0 * math.pi * torch.arange(num_frequencies, dtype=difference.dtype, device=difference.device)
    angles = (difference[..., None] * multipliers).flatten(-2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def segment_mean(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of ``values [E, F]`` per ``index [E]`` into ``[size, F]`` (0 where a segment is empty)."""
    total = values.new_zeros(size, values.shape[-1]).index_add_(0, index, values)
    count = torch.bincount(index, minlength=size).clamp_min(1).to(values.dtype)
    return total / count[:, None]


class CSPLayer(nn.Module):
    """One CSPNet message-passing layer (module docstring), residual in the node features.

    Shapes: h ``[N, hidden]``, edge_index ``[2, E]`` (sender, receiver), lattice_ip ``[E, 9]``,
    fourier ``[E, 6 K]`` -> ``[N, hidden]``.
    """

    def __init__(self, hidden: int, num_frequencies: int):
        super().__init__()
        self.edge_mlp = MLP([2 * hidden + 9 + 6 * num_frequencies, hidden, hidden], activate_last=True)
        self.node_mlp = MLP([2 * hidden, hidden, hidden], activate_last=True)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, h: Tensor, edge_index: Tensor, lattice_ip: Tensor, fourier: Tensor) -> Tensor:
        sender, receiver = edge_index
        x = self.norm(h)
        messages = self.edge_mlp(torch.cat([x[receiver], x[sender], lattice_ip, fourier], dim=-1))
        aggregated = segment_mean(messages, receiver, h.shape[0])
        return h + self.node_mlp(torch.cat([x, aggregated], dim=-1))


class CSPNet(nn.Module):
    """Periodic invariant backbone with an invariant per-atom head and an equivariant lattice head.

    Args:
        hidden: node / message width.
        num_layers: message-passing layers.
        num_frequencies: K, Fourier frequencies of the fractional differences.
        node_in: width of the per-atom input features (species embedding, time, conditioning), projected
            to ``hidden``.
        atom_out: width of the per-atom output.
        length_scale: s (Angstrom, or the units of ``lattice``), dividing the inner products L L^T.
        graph_out: width of the invariant per-crystal head replacing the lattice head (None: lattice head).

    Shapes:
        node_features ``[N, node_in]``, frac ``[N, 3]``, lattice ``[B, 3, 3]`` (rows a, b, c),
        batch ``[N]`` sorted -> (atom output ``[N, atom_out]``, lattice output ``[B, 3, 3]``, same units
        as ``lattice``; or ``[B, graph_out]`` with ``graph_out``).
    """

    def __init__(self, hidden: int = 128, num_layers: int = 4, num_frequencies: int = 10, *, node_in: int,
                 atom_out: int = 3, length_scale: float = 1.0, graph_out: int | None = None):
        super().__init__()
        self.num_frequencies = num_frequencies
        self.length_scale = length_scale
        self.embed = nn.Linear(node_in, hidden)
        self.layers = nn.ModuleList(CSPLayer(hidden, num_frequencies) for _ in range(num_layers))
        self.final_norm = nn.LayerNorm(hidden)
        self.atom_out = nn.Linear(hidden, atom_out, bias=False)
        self.graph_out = graph_out
        if graph_out is None:
            self.lattice_out: nn.Module = nn.Linear(hidden, 9, bias=False)
            nn.init.zeros_(self.lattice_out.weight)
        else:
            self.lattice_out = MLP([hidden, hidden, graph_out])

    def forward(self, node_features: Tensor, frac: Tensor, lattice: Tensor, batch: Tensor,
                num_graphs: int | None = None) -> tuple[Tensor, Tensor]:
        num_graphs = lattice.shape[0] if num_graphs is None else num_graphs
        edge_index = fully_connected_edges(batch)
        sender, receiver = edge_index
        fourier = fractional_fourier_features(frac[sender] - frac[receiver], self.num_frequencies)
        inner = (lattice @ lattice.transpose(-1, -2)).flatten(1) / self.length_scale ** 2
        lattice_ip = inner[batch[receiver]]
        h = self.embed(node_features)
        for layer in self.layers:
            h = layer(h, edge_index, lattice_ip, fourier)
        h = self.final_norm(h)
        pooled = segment_mean(h, batch, num_graphs)
        if self.graph_out is not None:
            return self.atom_out(h), self.lattice_out(pooled)
        return self.atom_out(h), self.lattice_out(pooled).reshape(-1, 3, 3) @ lattice
