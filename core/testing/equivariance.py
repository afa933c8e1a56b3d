"""Property checks for geometric models, in the spirit of e3nn's ``assert_equivariant``.

Each check transforms the inputs by a random group element, runs the function twice and returns the
largest absolute deviation between ``f(g x)`` and ``g f(x)``; it raises ``AssertionError`` above ``tol``.
Inputs are cast to ``dtype`` (float64 by default, so the measured error is round-off, not float32 noise):
cast the model too (``model.double()``).

Outputs are typed by :class:`GeometricOutputs`. A per-node output has leading dimension N (number of
nodes) and is transformed with its node's graph; any other leading dimension is read as per-graph
(``[B, ...]``). ``batch`` must be sorted, as in PyG batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.geometry.lattice import minimum_image_frac
from genforge.core.geometry.rotations import random_rotations


@dataclass(frozen=True)
class GeometricOutputs:
    """What a geometric function returns, by transformation type.

    Attributes:
        invariants: unchanged by the symmetry (node features, energies, fractional displacements).
        vectors: ``[..., 3]`` Cartesian vectors: rotate, ignore translations (forces, eps_x, displacements).
        positions: ``[..., 3]`` points: rotate and translate (SE(3) check) or are equal modulo 1
            (fractional coordinates in the periodic check).
    """

    invariants: Tensor | None = None
    vectors: Tensor | None = None
    positions: Tensor | None = None


def _graph_index(num_nodes: int, batch: Tensor | None, device: torch.device) -> Tensor:
    return torch.zeros(num_nodes, dtype=torch.long, device=device) if batch is None else batch


def _per_row(per_graph: Tensor, rows: int, batch: Tensor) -> Tensor:
    """Per-graph values indexed to the rows of an output: by node when it has N rows, else by graph."""
    return per_graph[batch] if rows == batch.shape[0] else per_graph


def _rotate(vectors: Tensor, rotation: Tensor, batch: Tensor) -> Tensor:
    node_rotation = _per_row(rotation, vectors.shape[0], batch)
    return torch.einsum("nij,n...j->n...i", node_rotation, vectors)


def _shift(points: Tensor, translation: Tensor, batch: Tensor) -> Tensor:
    node_translation = _per_row(translation, points.shape[0], batch)
    return points + node_translation.reshape(points.shape[0], *([1] * (points.dim() - 2)), 3)


def _max_error(name: str, actual: Tensor, expected: Tensor, tol: float) -> float:
    if actual.shape != expected.shape:
        raise AssertionError(f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}")
    error = float((actual - expected).detach().abs().max()) if actual.numel() else 0.0
    if not error <= tol:
        raise AssertionError(f"{name}: max abs error {error:.3e} > tol {tol:.1e}")
    return error


def assert_se3_equivariant(fn: Callable[[Tensor], GeometricOutputs], pos: Tensor, *,
                           batch: Tensor | None = None, tol: float = 1e-5, dtype: torch.dtype = torch.float64,
                           generator: torch.Generator | None = None, translation_scale: float = 3.0) -> float:
    """Check ``fn`` under an independent random rotation and translation of each graph.

    Args:
        fn: positions ``[N, 3]`` -> outputs; other inputs are closed over (and must already be ``dtype``).
        pos: positions ``[N, 3]`` (Angstrom).
        batch: ``[N]`` sorted graph index; None for one graph.
        translation_scale: standard deviation of the random translation (Angstrom).

    Returns:
        the largest absolute error over all outputs.
    """
    pos = pos.to(dtype)
    graph = _graph_index(pos.shape[0], batch, pos.device)
    num_graphs = int(graph.max()) + 1
    rotation = random_rotations(num_graphs, generator, dtype=dtype, device=pos.device)
    translation = translation_scale * torch.randn(num_graphs, 3, generator=generator, dtype=dtype,
                                                  device=pos.device)
    reference = fn(pos)
    moved = fn(_shift(_rotate(pos, rotation, graph), translation, graph))
    errors = [0.0]
    if reference.invariants is not None:
        errors.append(_max_error("invariants", moved.invariants, reference.invariants, tol))
    if reference.vectors is not None:
        errors.append(_max_error("vectors", moved.vectors, _rotate(reference.vectors, rotation, graph), tol))
    if reference.positions is not None:
        expected = _shift(_rotate(reference.positions, rotation, graph), translation, graph)
        errors.append(_max_error("positions", moved.positions, expected, tol))
    return max(errors)


def assert_periodic_invariant(fn: Callable[[Tensor, Tensor], GeometricOutputs], frac: Tensor, cell: Tensor, *,
                              batch: Tensor | None = None, tol: float = 1e-5,
                              dtype: torch.dtype = torch.float64, generator: torch.Generator | None = None,
                              max_shift: int = 3) -> float:
    """Check a crystal model under integer shifts of each atom's fractional coordinates and cell rotations.

    The atoms are shifted by random lattice vectors (integers in [-max_shift, max_shift]) and every cell is
    rotated (rows ``cell @ R^T``), which leaves the crystal unchanged up to orientation. Expected:
    invariants unchanged, Cartesian ``vectors`` rotated, fractional ``positions`` equal modulo 1.

    Args:
        fn: ``(frac [N, 3], cell [B, 3, 3])`` -> outputs.
        frac: fractional coordinates ``[N, 3]``.
        cell: lattice vectors as rows ``[B, 3, 3]`` (Angstrom).
        batch: ``[N]`` sorted graph index; None for one crystal.
    """
    frac, cell = frac.to(dtype), cell.to(dtype)
    graph = _graph_index(frac.shape[0], batch, frac.device)
    rotation = random_rotations(cell.shape[0], generator, dtype=dtype, device=frac.device)
    shifts = torch.randint(-max_shift, max_shift + 1, frac.shape, generator=generator, device=frac.device)
    reference = fn(frac, cell)
    moved = fn(frac + shifts.to(dtype), cell @ rotation.mT)
    errors = [0.0]
    if reference.invariants is not None:
        errors.append(_max_error("invariants", moved.invariants, reference.invariants, tol))
    if reference.vectors is not None:
        errors.append(_max_error("vectors", moved.vectors, _rotate(reference.vectors, rotation, graph), tol))
    if reference.positions is not None:
        wrapped = minimum_image_frac(moved.positions - reference.positions)
        errors.append(_max_error("positions (mod 1)", wrapped, torch.zeros_like(wrapped), tol))
    return max(errors)


def random_permutation_within_graphs(batch: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """A random permutation ``[N]`` that only reorders nodes inside each graph of a sorted ``batch``."""
    keys = batch.to(torch.float64) + torch.rand(batch.shape, generator=generator, dtype=torch.float64,
                                                device=batch.device)
    return torch.argsort(keys)


def assert_permutation_equivariant(fn: Callable[..., Tensor | Sequence[Tensor]],
                                   node_inputs: Sequence[Tensor], *, batch: Tensor | None = None,
                                   tol: float = 1e-5, generator: torch.Generator | None = None) -> float:
    """Check that permuting nodes within graphs permutes per-node outputs and leaves per-graph ones.

    Args:
        fn: ``fn(*node_inputs)`` -> a tensor or a sequence of tensors. Outputs with N rows are per-node
            (must permute), others are per-graph (must not change).
        node_inputs: tensors with leading dimension N (positions, features, species...), permuted together.
        batch: ``[N]`` sorted graph index, closed over by ``fn`` (it is unchanged by the permutation).
    """
    num_nodes = node_inputs[0].shape[0]
    graph = _graph_index(num_nodes, batch, node_inputs[0].device)
    permutation = random_permutation_within_graphs(graph, generator)
    reference, permuted = fn(*node_inputs), fn(*[x[permutation] for x in node_inputs])
    if isinstance(reference, Tensor):
        reference, permuted = [reference], [permuted]
    errors = [0.0]
    for index, (before, after) in enumerate(zip(reference, permuted, strict=True)):
        expected = before[permutation] if before.shape[0] == num_nodes else before
        errors.append(_max_error(f"output {index}", after, expected, tol))
    return max(errors)
