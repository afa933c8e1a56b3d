r"""E(3)-equivariant flow network for transition states: EGNN layers over four geometries of one reaction.

Every atom i carries invariant features h_i (species embedding + time features) and a working position
y_i that starts at the midpoint (R_i + P_i) / 2 of the reactant R and the product P (P Kabsch-superposed
onto R beforehand). Layer l, for receiver i and senders j in the same reaction (all pairs):

    m_ij = phi_e(h_i, h_j, B(|y_ij|), B(|x_ij|), B(|r_ij|), B(|p_ij|))
    y_i <- y_i + 1/deg(i) sum_j sum_{v in (y, x, r, p)} v_ij / (|v_ij| + 1) phi_v(m_ij)
    h_i <- h_i + phi_h(h_i, sum_j m_ij)

with v_ij = v_i - v_j the edge vectors of the working positions y, the noisy state x_t, the reactant R and
the product P, and B a Gaussian radial basis (with ``bond_features`` the edge features also hold each
distance over the summed covalent radii of the pair and soft bond indicators in R and P). This is the EGNN
update (Satorras et al. 2021, eqs. 3-6) with three extra vector channels, so rotating, translating or
permuting x_t, R and P together rotates, translates or permutes the output. The network predicts the clean
TS (``x0``): ``midpoint + remove_com(y_L - midpoint)``, whose centre of mass is the midpoint's.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from ase.data import covalent_radii
from torch import Tensor, nn

from genforge.core.geometry.com import remove_com
from genforge.core.nets.edges import fully_connected_edges
from genforge.core.nets.embeddings import sinusoidal_embedding
from genforge.core.nets.mlp import MLP

MAX_ATOMIC_NUMBER = 118
FIXED_FRAMES = 3
"""Geometries that stay fixed inside one call: the noisy state x_t, the reactant R and the product P."""
BOND_CHANNELS = 6
"""Extra edge features with ``bond_features``: 4 reduced distances (y, x_t, R, P) + 2 bond indicators (R, P)."""


@dataclass(frozen=True)
class ReactionCondition:
    """What the TS is conditioned on: species and the reactant / superposed product positions.

    Shapes: ``species [N]`` (atomic numbers), ``reactant``, ``product [N, 3]`` (Angstrom, product already
    superposed onto the reactant), ``batch [N]`` sorted reaction index, ``num_graphs`` reactions.
    """

    species: Tensor
    reactant: Tensor
    product: Tensor
    batch: Tensor
    num_graphs: int

    @property
    def midpoint(self) -> Tensor:
        """(R + P) / 2, ``[N, 3]``."""
        return 0.5 * (self.reactant + self.product)


class RadialBasis(nn.Module):
    """Gaussians exp(-(d - mu_k)^2 / (2 w^2)) on ``num`` centres evenly spaced in [0, cutoff] (Angstrom).

    Shapes: ``[...]`` -> ``[..., num]``.
    """

    def __init__(self, num: int, cutoff: float):
        super().__init__()
        self.register_buffer("centres", torch.linspace(0.0, cutoff, num))
        self.width = cutoff / max(num - 1, 1)

    def forward(self, distance: Tensor) -> Tensor:
        return torch.exp(-0.5 * ((distance.unsqueeze(-1) - self.centres.to(distance.dtype)) / self.width) ** 2)


class MultiFrameEGNNLayer(nn.Module):
    """One layer of the update in the module docstring.

    The first linear map of ``phi_e`` acts on [h_i, h_j, e_ij]; it is applied as W_i h_i + W_j h_j + W_e e_ij
    with the node parts computed once per atom and gathered (the same function as on the concatenation,
    with the per-edge work of the largest matrix product cut by two thirds).

    Args:
        hidden: width of h and of the messages.
        edge_dim: width of the invariant edge features.
        num_vectors: vector channels mixed into the position update (working positions + fixed frames).

    Shapes:
        h ``[N, hidden]``, edge_index ``[2, E]`` (sender, receiver), vectors ``[E, num_vectors, 3]`` (edge
        vectors, working positions first), edge_features ``[E, edge_dim]``, in_degree ``[N, 1]`` -> (h ``[N,
        hidden]``, update ``[N, 3]``).
    """

    def __init__(self, hidden: int, edge_dim: int, num_vectors: int):
        super().__init__()
        self.hidden = hidden
        self.phi_e = MLP([2 * hidden + edge_dim, hidden, hidden], activate_last=True)
        self.phi_h = MLP([2 * hidden, hidden, hidden])
        last = nn.Linear(hidden, num_vectors, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=1e-3)
        self.phi_v = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)

    def forward(self, h: Tensor, edge_index: Tensor, vectors: Tensor, edge_features: Tensor, in_degree: Tensor
                ) -> tuple[Tensor, Tensor]:
        sender, receiver = edge_index
        first = self.phi_e[0]
        weight_i, weight_j, weight_e = first.weight.split([self.hidden, self.hidden, edge_features.shape[1]], 1)
        nodes = torch.cat([h @ weight_i.T, h @ weight_j.T], dim=-1)
        message = (nodes[receiver, :self.hidden] + nodes[sender, self.hidden:]
                   + torch.addmm(first.bias, edge_features, weight_e.T))
        for module in list(self.phi_e)[1:]:
            message = module(message)
        unit = vectors / (vectors.norm(dim=-1, keepdim=True) + 1.0)
        edge_update = torch.einsum("ev,evc->ec", self.phi_v(message), unit)
        aggregated = torch.zeros(h.shape[0], self.hidden + 3, dtype=h.dtype, device=h.device)
        aggregated.index_add_(0, receiver, torch.cat([message, edge_update], dim=-1))
        messages, update = aggregated.split([self.hidden, 3], dim=-1)
        return h + self.phi_h(torch.cat([h, messages], dim=-1)), update / in_degree


class TsFlowNet(nn.Module):
    """``model(x_t [N, 3], t [N], cond: ReactionCondition) -> x0_hat [N, 3]`` (the clean TS, Angstrom).

    Args:
        hidden: EGNN width.
        num_layers: message-passing layers.
        num_rbf: radial basis functions per distance.
        cutoff: largest radial-basis centre (Angstrom); edges are all pairs regardless.
        time_dim: sinusoidal time features.
        bond_features: add, per pair, each frame's distance over the pair's summed covalent radii (y, x_t, R,
            P) and soft bond indicators in R and in P, sigmoid((1.25 - d / (r_i + r_j)) / 0.05), which mark the
            bonds the reaction breaks and forms (off in the v1-v3 models).
    """

    def __init__(self, hidden: int = 64, num_layers: int = 4, *, num_rbf: int = 16, cutoff: float = 6.0,
                 time_dim: int = 32, bond_features: bool = False):
        super().__init__()
        self.time_dim = time_dim
        self.bond_features = bond_features
        self.species = nn.Embedding(MAX_ATOMIC_NUMBER + 1, hidden)
        self.time = nn.Linear(time_dim, hidden)
        self.radial = RadialBasis(num_rbf, cutoff)
        self.register_buffer("covalent_radii", torch.as_tensor(covalent_radii, dtype=torch.float32),
                             persistent=False)
        edge_dim = (FIXED_FRAMES + 1) * num_rbf + (BOND_CHANNELS if bond_features else 0)
        self.layers = nn.ModuleList(MultiFrameEGNNLayer(hidden, edge_dim, FIXED_FRAMES + 1)
                                    for _ in range(num_layers))

    def forward(self, x_t: Tensor, t: Tensor, cond: ReactionCondition) -> Tensor:
        batch = cond.batch
        edge_index = fully_connected_edges(batch)
        sender, receiver = edge_index
        in_degree = torch.bincount(receiver, minlength=batch.shape[0]).clamp(min=1).to(x_t.dtype).unsqueeze(-1)
        fixed = torch.stack([x_t, cond.reactant, cond.product], dim=1)
        fixed_vectors = fixed[receiver] - fixed[sender]
        fixed_distances = fixed_vectors.norm(dim=-1)
        fixed_features = self.radial(fixed_distances).flatten(1)
        bond_length = None
        if self.bond_features:
            radii = self.covalent_radii.to(x_t.dtype)[cond.species]
            bond_length = (radii[receiver] + radii[sender]).unsqueeze(-1)
            reduced = fixed_distances / bond_length
            bonds = torch.sigmoid((1.25 - reduced[:, 1:]) / 0.05)
            fixed_features = torch.cat([fixed_features, reduced, bonds], dim=-1)
        h = self.species(cond.species) + self.time(sinusoidal_embedding(t, self.time_dim).to(x_t.dtype))
        start = cond.midpoint
        y = start
        for layer in self.layers:
            own = y[receiver] - y[sender]
            own_distance = own.norm(dim=-1, keepdim=True)
            features = [self.radial(own_distance.squeeze(-1)), fixed_features]
            if bond_length is not None:
                features.append(own_distance / bond_length)
            h, update = layer(h, edge_index, torch.cat([own.unsqueeze(1), fixed_vectors], dim=1),
                              torch.cat(features, dim=-1), in_degree)
            y = y + update
        return start + remove_com(y - start, batch, cond.num_graphs)
