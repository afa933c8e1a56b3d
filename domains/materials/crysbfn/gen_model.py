r"""The de novo CrysBFN network: :class:`CrystalNet`'s backbone with the species as an input distribution.

Instead of a fixed species embedding, every atom carries the discrete BFN's input probabilities
:math:`\theta \in \Delta^{K-1}` over the dataset's element vocabulary (K elements; at least 2, padded with the
placeholder 0), read through a linear layer of 2 theta - 1 (as CrysBFN); the per-atom head returns the
coordinate offset and K species logits. Lattice handling (normalised log lengths and angles) is
:class:`CrystalNet`'s.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genforge.core.nets.cspnet import CSPNet
from genforge.core.processes.periodic import wrap
from genforge.domains.materials.crysbfn.model import LATTICE_DIM, CrystalNet


class CrystalGenNet(CrystalNet):
    """CSPNet over (species probabilities, fractional coordinates, lattice) for de novo generation.

    Args:
        elements: ``[K]`` sorted atomic numbers of the species classes (0 = a padding class, never generated).
        atom_probs: ``[max_atoms + 1]`` distribution of the number of atoms per crystal (for sampling).
        hidden, num_layers, num_frequencies, time_dim, lattice_mean, lattice_std, beta_1: as
            :class:`CrystalNet`.
    """

    def __init__(self, elements: Tensor, atom_probs: Tensor, hidden: int, num_layers: int, num_frequencies: int,
                 time_dim: int, lattice_mean: Tensor, lattice_std: Tensor, beta_1: float = 1000.0):
        super().__init__(hidden, num_layers, num_frequencies, time_dim, lattice_mean, lattice_std, beta_1)
        num_classes = int(elements.shape[0])
        del self.species_embedding
        self.type_embedding = nn.Linear(num_classes, hidden)
        length_scale = float(lattice_mean[:3].exp().mean())
        self.backbone = CSPNet(hidden, num_layers, num_frequencies, node_in=hidden + time_dim + 3 + LATTICE_DIM,
                               atom_out=3 + num_classes, length_scale=length_scale, graph_out=LATTICE_DIM)
        self.register_buffer("elements", elements.long().reshape(num_classes))
        self.register_buffer("atom_probs", atom_probs.double().reshape(-1))

    @property
    def num_classes(self) -> int:
        """K, the species classes."""
        return int(self.elements.shape[0])

    def class_of(self, species: Tensor) -> Tensor:
        """Atomic numbers ``[N]`` -> class indices ``[N]`` (every number must be in ``elements``)."""
        return torch.searchsorted(self.elements, species)

    def generate(self, theta: Tensor, m: Tensor, c: Tensor, mu: Tensor, t: Tensor, batch: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
        """(species logits ``[N, K]`` (-inf for the padding class), x_hat ``[N, 3]`` = wrap(m + delta),
        lattice estimate ``[B, 6]`` = mu + delta).

        theta ``[N, K]`` species input probabilities, m / c ``[N, 3]`` coordinate means (fractional) and
        concentrations, mu ``[B, 6]`` normalised lattice input mean, t ``[B]``, batch ``[N]`` sorted.
        """
        time = self.time_embedding(t)[batch]
        accuracy = torch.log1p(c) / self.log_beta_1
        features = torch.cat([self.type_embedding(2.0 * theta - 1.0), time, accuracy, mu[batch]], dim=-1)
        atom, lattice_delta = self.backbone(features, m, self.denormalise(mu), batch, mu.shape[0])
        logits = atom[:, 3:].masked_fill(self.elements == 0, float("-inf"))
        return logits, wrap(m + atom[:, :3]), mu + lattice_delta

    def forward(self, kind: str, *args: Tensor) -> tuple[Tensor, ...]:
        """``kind`` = ``generate`` (one entry point for DDP)."""
        if kind == "generate":
            return self.generate(*args)
        raise ValueError(f"kind must be 'generate', got {kind!r}")
