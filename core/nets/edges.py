"""Graph edges for point clouds and crystals: all pairs or a radius cutoff per graph, and edge vectors.

Edges follow PyG's source-to-target flow: ``edge_index[0]`` is the sender j, ``edge_index[1]`` the
receiver i, and the edge vector is x_i - x_j. ``batch [N]`` is a sorted graph index. Pairs are enumerated
densely per graph (memory O(sum_g n_g^2)), which suits molecules and crystal cells of up to a few hundred
atoms and needs no torch-cluster.

Periodic graphs (``cell`` given, positions fractional) use the minimum image in fractional space: one edge
per atom pair, valid while the cutoff is below half the smallest cell width and the cell is not too
skewed (Niggli-reduce first); multiple images of one pair within the cutoff are not represented.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.geometry.lattice import minimum_image_frac


def fully_connected_edges(batch: Tensor) -> Tensor:
    """All ordered pairs j -> i with i != j inside each graph: ``edge_index [2, sum_g n_g (n_g - 1)]``."""
    num_nodes = batch.shape[0]
    counts = torch.bincount(batch)
    first_node = torch.cumsum(counts, 0) - counts
    pairs_per_node = counts[batch]
    receiver = torch.repeat_interleave(torch.arange(num_nodes, device=batch.device), pairs_per_node)
    pair_start = torch.cumsum(pairs_per_node, 0) - pairs_per_node
    offset = torch.arange(receiver.shape[0], device=batch.device) - torch.repeat_interleave(pair_start,
                                                                                            pairs_per_node)
    sender = first_node[batch[receiver]] + offset
    keep = sender != receiver
    return torch.stack([sender[keep], receiver[keep]])


def edge_vectors(pos: Tensor, edge_index: Tensor, *, cell: Tensor | None = None,
                 batch: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Edge differences x_i - x_j in the coordinates' own space and in Cartesian space (Angstrom).

    Args:
        pos: Cartesian positions ``[N, 3]``, or fractional coordinates when ``cell`` is given.
        edge_index: ``[2, E]`` (sender, receiver).
        cell: ``[B, 3, 3]`` lattice vectors as rows for periodic graphs.
        batch: ``[N]`` graph index (needed with ``cell``).

    Returns:
        ``(difference [E, 3], cartesian [E, 3])``; with a cell the difference is the minimum-image
        fractional difference and cartesian = difference @ cell; otherwise both are the same tensor.
    """
    sender, receiver = edge_index
    difference = pos[receiver] - pos[sender]
    if cell is None:
        return difference, difference
    if batch is None:
        batch = torch.zeros(pos.shape[0], dtype=torch.long, device=pos.device)
    difference = minimum_image_frac(difference)
    return difference, torch.einsum("ei,eij->ej", difference, cell[batch[receiver]])


def graph_edges(pos: Tensor, batch: Tensor, *, cutoff: float | None = None,
                cell: Tensor | None = None) -> Tensor:
    """Edges of all pairs within ``cutoff`` (Angstrom; None = all pairs) in each graph: ``[2, E]``."""
    edge_index = fully_connected_edges(batch)
    if cutoff is None:
        return edge_index
    _, cartesian = edge_vectors(pos, edge_index, cell=cell, batch=batch)
    return edge_index[:, cartesian.norm(dim=-1) <= cutoff]
