r"""The crystal network shared by CrysBFN and the DiffCSP-style baseline: CSPNet + species / time / accuracy
inputs, with one read-out per model kind (same weights, so the two models are exactly the same size).

Lattices are generated as their six rotation-free parameters :math:`y = (\log a, \log b, \log c, \alpha,
\beta, \gamma)` (Angstrom, radians; the cell is rebuilt in pymatgen's orientation, c along z), normalised per
entry, :math:`\tilde y = (y - \bar y) / s_y`, with the dataset's mean and standard deviation floored at
``MIN_LOG_LENGTH_STD`` / ``MIN_ANGLE_STD`` (an entry constant in the data, e.g. the right angles of perov_5,
stays finite). The backbone sees the cell built from the current (noisy) parameters through the inner
products L L^T and, on every atom, the normalised parameters themselves (so an eps prediction can read the
noise it must return); the lattice read-out is an invariant head on the pooled atom features.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from genforge.core.geometry.lattice import lattice_params_to_matrix, matrix_to_lattice_params
from genforge.core.nets.cspnet import CSPNet
from genforge.core.nets.embeddings import TimestepEmbedder
from genforge.core.processes.periodic import wrap

MAX_SPECIES = 100
MIN_LOG_LENGTH_STD = 0.02
MIN_ANGLE_STD = 0.02
ANGLE_RANGE = (0.3, math.pi - 0.3)
"""Angles (radians) the backbone's input cell is clamped to, so a noisy sample never builds a degenerate cell."""
LATTICE_DIM = 6


def lattice_features(cell: Tensor) -> Tensor:
    """``[B, 3, 3]`` cells -> ``[B, 6]`` (log lengths, angles in radians)."""
    lengths, angles = matrix_to_lattice_params(cell)
    return torch.cat([lengths.log(), angles], dim=-1)


def feature_cell(features: Tensor) -> Tensor:
    """``[B, 6]`` (log lengths, angles) -> ``[B, 3, 3]`` cells (angles clamped to ``ANGLE_RANGE``)."""
    return lattice_params_to_matrix(features[:, :3].clamp(-3.0, 6.0).exp(), features[:, 3:].clamp(*ANGLE_RANGE))


class CrystalNet(nn.Module):
    """CSPNet over (species, fractional coordinates, lattice) conditioned on time and per-coordinate accuracy.

    Args:
        hidden, num_layers, num_frequencies: the CSPNet size.
        time_dim: width of the time embedding (sinusoidal features of 1000 t + MLP).
        lattice_mean, lattice_std: ``[6]`` normalisation of the lattice features (see the module docstring).
        beta_1: the final von Mises accuracy; the concentration input is log(1 + c) / log(1 + beta_1).
    """

    def __init__(self, hidden: int, num_layers: int, num_frequencies: int, time_dim: int, lattice_mean: Tensor,
                 lattice_std: Tensor, beta_1: float = 1000.0):
        super().__init__()
        self.species_embedding = nn.Embedding(MAX_SPECIES + 1, hidden)
        self.time_embedding = TimestepEmbedder(time_dim)
        length_scale = float(lattice_mean[:3].exp().mean())
        self.backbone = CSPNet(hidden, num_layers, num_frequencies, node_in=hidden + time_dim + 3 + LATTICE_DIM,
                               atom_out=3, length_scale=length_scale, graph_out=LATTICE_DIM)
        floors = torch.tensor([MIN_LOG_LENGTH_STD] * 3 + [MIN_ANGLE_STD] * 3)
        self.register_buffer("lattice_mean", lattice_mean.float().reshape(LATTICE_DIM))
        self.register_buffer("lattice_std", torch.maximum(lattice_std.float().reshape(LATTICE_DIM), floors))
        self.log_beta_1 = math.log1p(beta_1)

    def normalise(self, cell: Tensor) -> Tensor:
        """``[B, 3, 3]`` Angstrom -> ``[B, 6]`` normalised lattice features."""
        return (lattice_features(cell.double()).to(cell.dtype) - self.lattice_mean) / self.lattice_std

    def denormalise(self, lattice: Tensor) -> Tensor:
        """``[B, 6]`` normalised lattice features -> ``[B, 3, 3]`` cells (Angstrom)."""
        return feature_cell(lattice * self.lattice_std + self.lattice_mean)

    def forward(self, kind: str, *args: Tensor) -> tuple[Tensor, Tensor]:
        """``kind`` = ``bfn`` or ``diffusion``: the read-out of that name (one entry point for DDP)."""
        if kind == "bfn":
            return self.bfn(*args)
        if kind == "diffusion":
            return self.diffusion(*args)
        raise ValueError(f"kind must be 'bfn' or 'diffusion', got {kind!r}")

    def _backbone(self, frac: Tensor, lattice: Tensor, t: Tensor, species: Tensor, batch: Tensor,
                  accuracy: Tensor) -> tuple[Tensor, Tensor]:
        time = self.time_embedding(t)[batch]
        features = torch.cat([self.species_embedding(species), time, accuracy, lattice[batch]], dim=-1)
        return self.backbone(features, frac, self.denormalise(lattice), batch, lattice.shape[0])

    def bfn(self, m: Tensor, c: Tensor, mu: Tensor, t: Tensor, species: Tensor, batch: Tensor
            ) -> tuple[Tensor, Tensor]:
        """CrysBFN read-out: (x_hat ``[N, 3]`` = wrap(m + delta), normalised lattice estimate ``[B, 6]``).

        m ``[N, 3]`` input means (fractional), c ``[N, 3]`` their concentrations, mu ``[B, 6]`` the lattice
        input mean (normalised), t ``[B]``. Both estimates are residual (around m, as CrysBFN, and around mu).
        """
        accuracy = torch.log1p(c) / self.log_beta_1
        delta, lattice_delta = self._backbone(m, mu, t, species, batch, accuracy)
        return wrap(m + delta), mu + lattice_delta

    def diffusion(self, x: Tensor, lattice: Tensor, t: Tensor, species: Tensor, batch: Tensor
                  ) -> tuple[Tensor, Tensor]:
        """DiffCSP read-out: (normalised wrapped-normal score ``[N, 3]``, lattice eps ``[B, 6]``)."""
        return self._backbone(x, lattice, t, species, batch, torch.zeros_like(x))
