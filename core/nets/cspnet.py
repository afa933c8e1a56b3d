r"""CSPNet: the periodic E(3)-invariant message-passing backbone of DiffCSP (Jiao et al. 2023) and CrysBFN.

Layer l over all ordered pairs (j -> i, j != i) of atoms inside one crystal (fully connected, no cutoff):

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

Atoms come concatenated along one axis with a sorted graph index ``batch`` (PyG style). The first linear layer
of :math:`\varphi_m` is evaluated by parts, the same weights: :math:`W_r h_i` and :math:`W_s h_j` per atom, the
lattice part per crystal and the Fourier part per pair (one matmul for all layers), so the only per-pair work
is the Fourier projection, one hidden x hidden layer and the aggregation. Two equivalent layouts:

* **dense** (the default when padding wastes little, e.g. perov_5's equal 5-atom cells): atoms padded to
  ``[B, n_max, ...]``, pair tensors ``[B, n_max, n_max, ...]`` with a mask (self-pairs and padding excluded),
  no gather / scatter;
* **sparse**: one row per ordered pair (``fully_connected_edges``), gathers and a segment mean, for batches of
  very unequal crystal sizes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genforge.core.nets.edges import fully_connected_edges
from genforge.core.nets.mlp import MLP

DENSE_PADDING_RATIO = 1.5
"""Auto layout: dense when B n_max^2 <= this x sum_g n_g^2 (padded pairs over real ones, self-pairs included)."""


def fractional_fourier_features(difference: Tensor, num_frequencies: int) -> Tensor:
    """``[..., 3] -> [..., 6 K]``: sin and cos of 2 pi k d for k = 0 .. K - 1, invariant to integer shifts."""
    multipliers = 2.0 * math.pi * torch.arange(num_frequencies, dtype=difference.dtype, device=difference.device)
    angles = (difference[..., None] * multipliers).flatten(-2)
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


def segment_mean(values: Tensor, index: Tensor, size: int) -> Tensor:
    """Mean of ``values [E, F]`` per ``index [E]`` into ``[size, F]`` (0 where a segment is empty)."""
    total = values.new_zeros(size, values.shape[-1]).index_add_(0, index, values)
    count = torch.bincount(index, minlength=size).clamp_min(1).to(values.dtype)
    return total / count[:, None]


@dataclass(frozen=True)
class PairLayout:
    """Where the atoms and pairs of one batch live.

    Sparse: ``edge_index [2, E]`` (sender, receiver) and ``batch [N]``. Dense: ``slot [N]`` (row of each atom in
    the flattened ``[B * n_max]`` padding), ``atom_mask [B, n_max]`` and ``pair_weight [B, n_max, n_max, 1]``
    (1 / (n_i - 1) for a real pair j != i, else 0).
    """

    batch: Tensor
    num_graphs: int
    edge_index: Tensor | None = None
    slot: Tensor | None = None
    atom_mask: Tensor | None = None
    pair_weight: Tensor | None = None

    @property
    def dense(self) -> bool:
        return self.slot is not None

    @classmethod
    def build(cls, batch: Tensor, num_graphs: int, dtype: torch.dtype, dense: bool | None = None) -> PairLayout:
        """The layout of ``batch [N]`` (sorted); ``dense`` None picks by ``DENSE_PADDING_RATIO``."""
        counts = torch.bincount(batch, minlength=num_graphs)
        n_max = int(counts.max()) if counts.numel() else 0
        if dense is None:
            dense = num_graphs * n_max ** 2 <= DENSE_PADDING_RATIO * float(counts.square().sum())
        if not dense:
            return cls(batch, num_graphs, edge_index=fully_connected_edges(batch))
        first = torch.cumsum(counts, 0) - counts
        local = torch.arange(batch.shape[0], device=batch.device) - first[batch]
        slot = batch * n_max + local
        atom_mask = torch.arange(n_max, device=batch.device) < counts[:, None]
        pair = atom_mask[:, :, None] & atom_mask[:, None, :] & ~torch.eye(n_max, dtype=torch.bool,
                                                                          device=batch.device)
        weight = pair.to(dtype) / (counts - 1).clamp_min(1).to(dtype)[:, None, None]
        return cls(batch, num_graphs, slot=slot, atom_mask=atom_mask, pair_weight=weight[..., None])

    def to_dense(self, x: Tensor) -> Tensor:
        """``[N, F]`` -> ``[B, n_max, F]`` (zeros at padding)."""
        assert self.slot is not None and self.atom_mask is not None
        num, n_max = self.atom_mask.shape
        out = x.new_zeros(num * n_max, x.shape[-1]).index_copy(0, self.slot, x)
        return out.reshape(num, n_max, x.shape[-1])

    def to_flat(self, x: Tensor) -> Tensor:
        """``[B, n_max, F]`` -> ``[N, F]``."""
        assert self.slot is not None
        return x.reshape(-1, x.shape[-1])[self.slot]

    def pair_differences(self, frac: Tensor) -> Tensor:
        """f_j - f_i per pair: ``[E, 3]`` (sparse) or ``[B, n_max (i), n_max (j), 3]`` (dense)."""
        if self.dense:
            dense = self.to_dense(frac)
            return dense[:, None, :, :] - dense[:, :, None, :]
        assert self.edge_index is not None
        sender, receiver = self.edge_index
        return frac[sender] - frac[receiver]

    def graph_mean(self, h: Tensor) -> Tensor:
        """Mean node feature per crystal ``[B, F]`` from ``[N, F]`` (sparse) or ``[B, n_max, F]`` (dense)."""
        if self.dense:
            assert self.atom_mask is not None
            mask = self.atom_mask[..., None].to(h.dtype)
            return (h * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return segment_mean(h, self.batch, self.num_graphs)


class CSPLayer(nn.Module):
    """One CSPNet message-passing layer (module docstring), residual in the node features.

    ``edge_mlp``'s first layer reads [h_i, h_j, lattice inner products (9), Fourier features (6 K)]; it is
    applied by parts (see :meth:`forward`). Shapes: h ``[N, hidden]`` (sparse) or ``[B, n_max, hidden]`` (dense),
    lattice_ip ``[B, 9]``, fourier_projection ``[E, hidden]`` or ``[B, n_max, n_max, hidden]`` (the Fourier
    features times this layer's Fourier block, from :meth:`fourier_weight`) -> h's shape.
    """

    def __init__(self, hidden: int, num_frequencies: int):
        super().__init__()
        self.hidden = hidden
        self.edge_mlp = MLP([2 * hidden + 9 + 6 * num_frequencies, hidden, hidden], activate_last=True)
        self.node_mlp = MLP([2 * hidden, hidden, hidden], activate_last=True)
        self.norm = nn.LayerNorm(hidden)

    def fourier_weight(self) -> Tensor:
        """The Fourier block of the first message layer, ``[hidden, 6 K]``."""
        return self.edge_mlp[0].weight[:, 2 * self.hidden + 9:]

    def _message_tail(self, pre: Tensor) -> Tensor:
        """``edge_mlp`` after its first linear layer, applied to that layer's output."""
        for module in list(self.edge_mlp)[1:]:
            pre = module(pre)
        return pre

    def forward(self, h: Tensor, layout: PairLayout, lattice_ip: Tensor, fourier_projection: Tensor) -> Tensor:
        first, hidden = self.edge_mlp[0], self.hidden
        x = self.norm(h)
        graph_term = nn.functional.linear(lattice_ip, first.weight[:, 2 * hidden:2 * hidden + 9], first.bias)
        receiver_term = x @ first.weight[:, :hidden].T
        sender_term = x @ first.weight[:, hidden:2 * hidden].T
        if layout.dense:
            assert layout.pair_weight is not None
            pre = (receiver_term + graph_term[:, None])[:, :, None] + sender_term[:, None] + fourier_projection
            messages = self._message_tail(pre)
            aggregated = (messages * layout.pair_weight).sum(2)
        else:
            assert layout.edge_index is not None
            sender, receiver = layout.edge_index
            receiver_term = receiver_term + graph_term[layout.batch]
            messages = self._message_tail(receiver_term[receiver] + sender_term[sender] + fourier_projection)
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
        as ``lattice``; or ``[B, graph_out]`` with ``graph_out``). ``dense`` picks the layout (module
        docstring; None: automatic); both give the same result.
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
                num_graphs: int | None = None, *, dense: bool | None = None) -> tuple[Tensor, Tensor]:
        num_graphs = lattice.shape[0] if num_graphs is None else num_graphs
        layout = PairLayout.build(batch, num_graphs, frac.dtype, dense)
        fourier = fractional_fourier_features(layout.pair_differences(frac), self.num_frequencies)
        weights = torch.cat([layer.fourier_weight() for layer in self.layers])
        projections = (fourier @ weights.T).split(weights.shape[0] // len(self.layers), dim=-1)
        lattice_ip = (lattice @ lattice.transpose(-1, -2)).flatten(1) / self.length_scale ** 2
        h = self.embed(node_features)
        if layout.dense:
            h = layout.to_dense(h)
        for layer, projection in zip(self.layers, projections, strict=True):
            h = layer(h, layout, lattice_ip, projection)
        h = self.final_norm(h)
        pooled = layout.graph_mean(h)
        atoms = self.atom_out(layout.to_flat(h) if layout.dense else h)
        if self.graph_out is not None:
            return atoms, self.lattice_out(pooled)
        return atoms, self.lattice_out(pooled).reshape(-1, 3, 3) @ lattice
