"""Crystal lattices: parameters <-> matrix, fractional <-> Cartesian coordinates, volume, wrapping.

Conventions (pymatgen's): a cell matrix ``[..., 3, 3]`` stores the lattice vectors a, b, c as ROWS, so a
fractional row vector f maps to Cartesian ``f @ cell`` (Angstrom). Lengths a, b, c are in Angstrom and the
angles alpha = angle(b, c), beta = angle(a, c), gamma = angle(a, b) are in RADIANS.

Graph batches carry one cell per graph (``cell [B, 3, 3]``) and a node-to-graph index ``batch [N]``; pass
``batch`` to the coordinate maps. Without ``batch`` the cell broadcasts against the coordinates by matrix
multiplication (``frac [..., N, 3]`` with ``cell [..., 3, 3]``).
"""

from __future__ import annotations

import torch
from torch import Tensor


def lattice_params_to_matrix(lengths: Tensor, angles: Tensor) -> Tensor:
    """Cell matrix ``[..., 3, 3]`` from lengths ``[..., 3]`` (Angstrom) and angles ``[..., 3]`` (radians).

    Same orientation as pymatgen ``Lattice.from_parameters`` (c along z, a in the xz-plane):
    a = (a sin(beta), 0, a cos(beta)),
    b = (-b sin(alpha) cos(gamma*), b sin(alpha) sin(gamma*), b cos(alpha)), c = (0, 0, c),
    with cos(gamma*) = (cos(alpha) cos(beta) - cos(gamma)) / (sin(alpha) sin(beta)).
    """
    cos_alpha, cos_beta, cos_gamma = angles.cos().unbind(-1)
    sin_alpha, sin_beta = angles[..., 0].sin(), angles[..., 1].sin()
    cos_gamma_star = ((cos_alpha * cos_beta - cos_gamma) / (sin_alpha * sin_beta)).clamp(-1.0, 1.0)
    sin_gamma_star = (1.0 - cos_gamma_star.square()).sqrt()
    len_a, len_b, len_c = lengths.unbind(-1)
    zero = torch.zeros_like(len_a)
    vector_a = torch.stack([len_a * sin_beta, zero, len_a * cos_beta], dim=-1)
    vector_b = torch.stack([-len_b * sin_alpha * cos_gamma_star, len_b * sin_alpha * sin_gamma_star,
                            len_b * cos_alpha], dim=-1)
    vector_c = torch.stack([zero, zero, len_c], dim=-1)
    return torch.stack([vector_a, vector_b, vector_c], dim=-2)


def matrix_to_lattice_params(cell: Tensor) -> tuple[Tensor, Tensor]:
    """Lengths ``[..., 3]`` (Angstrom) and angles (alpha, beta, gamma) ``[..., 3]`` (radians) of ``cell``."""
    lengths = cell.norm(dim=-1)
    vector_a, vector_b, vector_c = cell.unbind(-2)
    len_a, len_b, len_c = lengths.unbind(-1)
    cosines = torch.stack([(vector_b * vector_c).sum(-1) / (len_b * len_c),
                           (vector_a * vector_c).sum(-1) / (len_a * len_c),
                           (vector_a * vector_b).sum(-1) / (len_a * len_b)], dim=-1)
    return lengths, cosines.clamp(-1.0, 1.0).arccos()


def cell_volume(cell: Tensor) -> Tensor:
    """Cell volume ``[...]`` in Angstrom^3: |det(cell)|."""
    return torch.linalg.det(cell).abs()


def frac_to_cart(frac: Tensor, cell: Tensor, batch: Tensor | None = None) -> Tensor:
    """Cartesian positions ``f @ cell``: frac ``[N, 3]`` with cell ``[B, 3, 3]`` and batch ``[N]``."""
    if batch is None:
        return frac @ cell
    return torch.einsum("ni,nij->nj", frac, cell[batch])


def cart_to_frac(cart: Tensor, cell: Tensor, batch: Tensor | None = None) -> Tensor:
    """Fractional coordinates ``x @ cell^-1``: cart ``[N, 3]`` with cell ``[B, 3, 3]`` and batch ``[N]``."""
    inverse = torch.linalg.inv(cell)
    if batch is None:
        return cart @ inverse
    return torch.einsum("ni,nij->nj", cart, inverse[batch])


def wrap_frac(frac: Tensor) -> Tensor:
    """Fractional coordinates wrapped into [0, 1) (values that round to 1.0 are mapped to 0.0)."""
    wrapped = frac - frac.floor()
    return torch.where(wrapped >= 1.0, wrapped - 1.0, wrapped)


def minimum_image_frac(frac_diff: Tensor) -> Tensor:
    """Fractional difference wrapped into [-0.5, 0.5]: the minimum image in fractional space.

    This is the Cartesian minimum image only for cells that are not too skewed (for a strongly sheared
    cell a different image can be nearer in Angstrom); Niggli-reduce such cells first.
    """
    return frac_diff - frac_diff.round()
