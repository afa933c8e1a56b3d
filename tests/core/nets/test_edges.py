"""Graph edges: all pairs per graph, radius cutoff, minimum-image edge vectors."""

from __future__ import annotations

import torch

from genforge.core.nets.edges import edge_vectors, fully_connected_edges, graph_edges

F64 = torch.float64


def test_fully_connected_edges_are_all_ordered_pairs_within_graphs() -> None:
    batch = torch.tensor([0, 0, 0, 1, 2, 2])
    edge_index = fully_connected_edges(batch)
    expected = {(j, i) for i in range(6) for j in range(6) if i != j and batch[i] == batch[j]}
    assert set(map(tuple, edge_index.T.tolist())) == expected
    assert edge_index.shape[1] == len(expected) == 8


def test_radius_edges_match_pairwise_distances() -> None:
    batch = torch.tensor([0] * 6 + [1] * 5)
    pos = 2.0 * torch.randn(11, 3, generator=torch.Generator().manual_seed(0), dtype=F64)
    edge_index = graph_edges(pos, batch, cutoff=3.5)
    distance = torch.cdist(pos, pos)
    expected = {(j, i) for i in range(11) for j in range(11)
                if i != j and batch[i] == batch[j] and distance[i, j] <= 3.5}
    assert set(map(tuple, edge_index.T.tolist())) == expected
    assert 0 < len(expected) < 50


def test_periodic_edge_vectors_use_the_minimum_image() -> None:
    cell = torch.diag(torch.tensor([4.0, 5.0, 6.0], dtype=F64)).unsqueeze(0)
    frac = torch.tensor([[0.05, 0.5, 0.5], [0.95, 0.5, 0.5]], dtype=F64)
    edge_index = fully_connected_edges(torch.zeros(2, dtype=torch.long))
    difference, cartesian = edge_vectors(frac, edge_index, cell=cell)
    receiver_is_first = edge_index[1] == 0
    assert torch.allclose(difference[receiver_is_first], torch.tensor([[0.1, 0.0, 0.0]], dtype=F64))
    assert torch.allclose(cartesian[receiver_is_first], torch.tensor([[0.4, 0.0, 0.0]], dtype=F64))
    assert graph_edges(frac, torch.zeros(2, dtype=torch.long), cutoff=0.5, cell=cell).shape[1] == 2
