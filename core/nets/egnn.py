"""E(n)-equivariant graph neural network (Satorras, Hoogeboom & Welling 2021, "E(n) Equivariant Graph
Neural Networks", eqs. 3-6) and a time-conditioned EGNN denoiser (Hoogeboom et al. 2022, EDM).

Layer l, for receiver i and senders j (edge vector d_ij = x_i - x_j):
    m_ij = phi_e(h_i, h_j, ||d_ij||^2, a_ij)                                    (eq. 3)
    x_i <- x_i + 1/deg(i) sum_j d_ij / (||d_ij|| + 1) phi_x(m_ij)                (eq. 4, C = 1/deg,
                                                                                   normalised as in EDM)
    h_i <- h_i + phi_h(h_i, sum_j m_ij)                                          (eqs. 5-6, residual)
Periodic crystals (``cell [B, 3, 3]`` given, positions fractional): d_ij is the minimum-image fractional
difference, distances are Cartesian (||d_ij @ cell||), and the update above is applied to the fractional
coordinates, which equals the Cartesian update mapped through cell^-1; positions are wrapped to [0, 1).
The result is invariant to integer shifts of atoms and to rotations of the cell (see core.nets.edges for
the validity of the minimum image).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.nn import MessagePassing
from torch_geometric.utils import degree

from genforge.core.geometry.com import remove_com
from genforge.core.geometry.lattice import minimum_image_frac, wrap_frac
from genforge.core.nets.edges import edge_vectors, graph_edges
from genforge.core.nets.embeddings import sinusoidal_embedding
from genforge.core.nets.mlp import MLP


class EGNNLayer(MessagePassing):
    """One E(n)-equivariant message-passing layer (eqs. 3-6 in the module docstring).

    Args:
        hidden: width of node features and messages.
        edge_attr_dim: width of optional invariant edge attributes a_ij (0 = none).
        update_positions: whether to return a coordinate update (else it is zero).

    Shapes:
        h ``[N, hidden]``, edge_index ``[2, E]``, difference ``[E, 3]`` (x_i - x_j in the coordinates'
        space), cartesian ``[E, 3]`` (Angstrom), edge_attr ``[E, edge_attr_dim]`` ->
        (h ``[N, hidden]``, position update ``[N, 3]``).
    """

    def __init__(self, hidden: int, edge_attr_dim: int = 0, *, update_positions: bool = True):
        super().__init__(aggr="add")
        self.hidden = hidden
        self.update_positions = update_positions
        self.phi_e = MLP([2 * hidden + 1 + edge_attr_dim, hidden, hidden], activate_last=True)
        self.phi_h = MLP([2 * hidden, hidden, hidden])
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=1e-3)
        self.phi_x = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)

    def forward(self, h: Tensor, edge_index: Tensor, difference: Tensor, cartesian: Tensor,
                edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor]:
        distance = cartesian.norm(dim=-1, keepdim=True)
        aggregated = self.propagate(edge_index, h=h, difference=difference, distance=distance,
                                    edge_attr=edge_attr)
        messages, position_sum = aggregated.split([self.hidden, 3], dim=-1)
        h = h + self.phi_h(torch.cat([h, messages], dim=-1))
        if not self.update_positions:
            return h, torch.zeros_like(position_sum)
        in_degree = degree(edge_index[1], h.shape[0], dtype=h.dtype).clamp(min=1.0)
        return h, position_sum / in_degree.unsqueeze(-1)

    def message(self, h_i: Tensor, h_j: Tensor, difference: Tensor, distance: Tensor,
                edge_attr: Tensor | None) -> Tensor:
        inputs = [h_i, h_j, distance.square()] + ([] if edge_attr is None else [edge_attr])
        message = self.phi_e(torch.cat(inputs, dim=-1))
        position_message = difference / (distance + 1.0) * self.phi_x(message)
        return torch.cat([message, position_message], dim=-1)


class EGNN(nn.Module):
    """Stack of :class:`EGNNLayer` between linear node embeddings.

    Edges are built once from the input positions: all pairs in each graph, or pairs within ``cutoff``
    (Angstrom), with the minimum image for periodic graphs; or passed in as ``edge_index``.

    Args:
        in_dim: node input features.
        hidden: hidden width.
        out_dim: node output features.
        num_layers: message-passing layers.
        edge_attr_dim: width of invariant edge attributes (requires an explicit ``edge_index``).
        cutoff: radius for edges (None = fully connected).

    Shapes:
        h ``[N, in_dim]``, pos ``[N, 3]`` (Cartesian, or fractional with ``cell [B, 3, 3]``), batch ``[N]``
        -> (h ``[N, out_dim]``, pos ``[N, 3]``; fractional and wrapped to [0, 1) when periodic).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, num_layers: int, *, edge_attr_dim: int = 0,
                 cutoff: float | None = None):
        super().__init__()
        self.cutoff = cutoff
        self.embedding = nn.Linear(in_dim, hidden)
        self.layers = nn.ModuleList(EGNNLayer(hidden, edge_attr_dim) for _ in range(num_layers))
        self.readout = nn.Linear(hidden, out_dim)

    def forward(self, h: Tensor, pos: Tensor, batch: Tensor | None = None, *, cell: Tensor | None = None,
                edge_index: Tensor | None = None, edge_attr: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if batch is None:
            batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
        if edge_index is None:
            if edge_attr is not None:
                raise ValueError("edge_attr needs the edge_index it belongs to")
            edge_index = graph_edges(pos, batch, cutoff=self.cutoff, cell=cell)
        h = self.embedding(h)
        for layer in self.layers:
            difference, cartesian = edge_vectors(pos, edge_index, cell=cell, batch=batch)
            h, update = layer(h, edge_index, difference, cartesian, edge_attr)
            pos = pos + update
            if cell is not None:
                pos = wrap_frac(pos)
        return self.readout(h), pos


class EGNNDenoiser(nn.Module):
    """Time-conditioned EGNN predicting the noise on node features and positions (EDM-style).

    The time embedding (sinusoidal, per graph) and an optional graph-level condition are concatenated to
    every node's features. eps_x is the EGNN's position displacement: made centre-of-mass free per graph
    for molecules (Hoogeboom et al. 2022, sec. 3), and the minimum-image fractional displacement for
    periodic crystals (not centred: translations of the torus are left to the process).

    Args:
        node_dim: width of the noisy node features h_t (and of eps_h).
        hidden: EGNN width.
        num_layers: EGNN layers.
        time_dim: width of the sinusoidal time features.
        cond_dim: width of the graph-level condition (0 = none).
        cutoff: edge radius in Angstrom (None = fully connected).

    Shapes:
        h_t ``[N, node_dim]``, x_t ``[N, 3]`` (fractional with ``cell``), t ``[B]``, batch ``[N]``,
        cell ``[B, 3, 3]`` or None, cond ``[B, cond_dim]`` or None -> (eps_h ``[N, node_dim]``,
        eps_x ``[N, 3]``).
    """

    def __init__(self, node_dim: int, hidden: int, num_layers: int, *, time_dim: int = 16, cond_dim: int = 0,
                 cutoff: float | None = None):
        super().__init__()
        self.time_dim = time_dim
        self.cond_dim = cond_dim
        self.egnn = EGNN(node_dim + time_dim + cond_dim, hidden, node_dim, num_layers, cutoff=cutoff)

    def forward(self, h_t: Tensor, x_t: Tensor, t: Tensor, batch: Tensor | None = None, *,
                cell: Tensor | None = None, cond: Tensor | None = None) -> tuple[Tensor, Tensor]:
        if batch is None:
            batch = torch.zeros(x_t.shape[0], dtype=torch.long, device=x_t.device)
        features = [h_t, sinusoidal_embedding(t, self.time_dim).to(h_t.dtype)[batch]]
        if self.cond_dim:
            if cond is None:
                raise ValueError(f"this denoiser expects cond [B, {self.cond_dim}]")
            features.append(cond.to(h_t.dtype)[batch])
        eps_h, x_out = self.egnn(torch.cat(features, dim=-1), x_t, batch, cell=cell)
        if cell is not None:
            return eps_h, minimum_image_frac(x_out - x_t)
        return eps_h, remove_com(x_out - x_t, batch)
