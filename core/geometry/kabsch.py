"""Optimal superposition (Kabsch) and RMSD, batched, plus permutation-aware RMSD over identical atoms.

Layouts: padded ``P, Q [B, N, 3]`` with an optional validity ``mask [B, N]`` (True = atom present), or a
graph batch ``P, Q [N, 3]`` with ``batch [N]`` (sorted graph index), or a single structure ``[N, 3]``.
Positions are in Angstrom; RMSD is in Angstrom.
"""

from __future__ import annotations

import itertools
import math

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def _graph_to_padded(values: Tensor, batch: Tensor) -> tuple[Tensor, Tensor]:
    """Per-node ``values [N, 3]`` of a sorted ``batch`` -> ``(padded [B, N_max, 3], valid [B, N_max])``."""
    counts = torch.bincount(batch)
    slot = torch.arange(batch.shape[0], device=batch.device) - (torch.cumsum(counts, 0) - counts)[batch]
    padded = values.new_zeros(counts.shape[0], int(counts.max()), values.shape[-1])
    padded[batch, slot] = values
    valid = torch.zeros(padded.shape[:2], dtype=torch.bool, device=values.device)
    valid[batch, slot] = True
    return padded, valid


def _padded(P: Tensor, Q: Tensor, mask: Tensor | None, batch: Tensor | None) -> tuple[Tensor, Tensor, Tensor]:
    """``(P [B, N, 3], Q [B, N, 3], weights [B, N])`` from any supported layout."""
    if batch is not None:
        (P_dense, valid), (Q_dense, _) = _graph_to_padded(P, batch), _graph_to_padded(Q, batch)
        return P_dense, Q_dense, valid.to(P.dtype)
    if P.dim() == 2:
        P, Q = P.unsqueeze(0), Q.unsqueeze(0)
        mask = None if mask is None else mask.unsqueeze(0)
    weights = torch.ones(P.shape[:-1], dtype=P.dtype, device=P.device) if mask is None else mask.to(P.dtype)
    return P, Q, weights


def _kabsch_padded(P: Tensor, Q: Tensor, weights: Tensor) -> tuple[Tensor, Tensor]:
    """Rotation ``[B, 3, 3]`` and translation ``[B, 3]`` minimising sum_i w_i |R p_i + t - q_i|^2.

    Kabsch (1976): with centred clouds, H = sum_i w_i p_i q_i^T = U S V^T and
    R = V diag(1, 1, sign det(V U^T)) U^T (the sign excludes reflections); t = q_mean - R p_mean.
    """
    total = weights.sum(-1, keepdim=True)
    p_mean = (weights.unsqueeze(-1) * P).sum(-2) / total
    q_mean = (weights.unsqueeze(-1) * Q).sum(-2) / total
    covariance = torch.einsum("bni,bn,bnj->bij", P - p_mean.unsqueeze(-2), weights, Q - q_mean.unsqueeze(-2))
    U, _, Vh = torch.linalg.svd(covariance)
    V = Vh.mT
    sign = torch.linalg.det(V @ U.mT).sign()
    correction = torch.ones_like(p_mean)
    correction[:, 2] = sign
    rotation = V @ (correction.unsqueeze(-1) * U.mT)
    translation = q_mean - torch.einsum("bij,bj->bi", rotation, p_mean)
    return rotation, translation


def kabsch(P: Tensor, Q: Tensor, *, mask: Tensor | None = None,
           batch: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Proper rotation R and translation t such that ``P @ R.mT + t`` best matches Q (least squares).

    Args:
        P: mobile positions ``[B, N, 3]``, ``[N, 3]`` with ``batch``, or one structure ``[N, 3]``.
        Q: reference positions, same layout as P.
        mask: ``[B, N]`` bool, True where an atom is present (padded layout only).
        batch: ``[N]`` sorted graph index (graph layout only).

    Returns:
        rotation ``[B, 3, 3]`` and translation ``[B, 3]`` (``[3, 3]`` and ``[3]`` for one structure).
    """
    single = batch is None and P.dim() == 2
    rotation, translation = _kabsch_padded(*_padded(P, Q, mask, batch))
    return (rotation[0], translation[0]) if single else (rotation, translation)


def superpose(P: Tensor, Q: Tensor, *, mask: Tensor | None = None, batch: Tensor | None = None) -> Tensor:
    """P moved onto Q by the optimal rotation and translation, in P's layout."""
    rotation, translation = kabsch(P, Q, mask=mask, batch=batch)
    if batch is not None:
        return torch.einsum("nij,nj->ni", rotation[batch], P) + translation[batch]
    return P @ rotation.mT + translation.unsqueeze(-2)


def aligned_rmsd(P: Tensor, Q: Tensor, *, mask: Tensor | None = None, batch: Tensor | None = None) -> Tensor:
    """RMSD after optimal superposition of P onto Q: ``[B]`` per structure (a scalar for one structure)."""
    single = batch is None and P.dim() == 2
    P_dense, Q_dense, weights = _padded(P, Q, mask, batch)
    rotation, translation = _kabsch_padded(P_dense, Q_dense, weights)
    moved = P_dense @ rotation.mT + translation.unsqueeze(-2)
    squared = ((moved - Q_dense).square().sum(-1) * weights).sum(-1) / weights.sum(-1)
    rmsd = squared.sqrt()
    return rmsd[0] if single else rmsd


def _species_groups(species: Tensor) -> list[Tensor]:
    """Index tensors of the atoms of each species that occurs more than once."""
    groups = [torch.nonzero(species == s).flatten() for s in torch.unique(species)]
    return [group for group in groups if group.numel() > 1]


def _all_species_permutations(species: Tensor) -> Tensor:
    """Every permutation ``[K, N]`` that only exchanges atoms of the same species."""
    num_atoms = species.shape[0]
    groups = _species_groups(species)
    if not groups:
        return torch.arange(num_atoms).unsqueeze(0)
    per_group = [group[torch.tensor(list(itertools.permutations(range(group.numel()))))] for group in groups]
    choice = torch.cartesian_prod(*[torch.arange(p.shape[0]) for p in per_group]).reshape(-1, len(groups))
    permutations = torch.arange(num_atoms).repeat(choice.shape[0], 1)
    for column, (group, options) in enumerate(zip(groups, per_group, strict=True)):
        permutations[:, group] = options[choice[:, column]]
    return permutations


def _assignment_refinement(P: Tensor, Q: Tensor, species: Tensor, max_iterations: int) -> Tensor:
    """Alternate Kabsch alignment and per-species Hungarian assignment from the identity permutation."""
    permutation = torch.arange(P.shape[0])
    for _ in range(max_iterations):
        moved = superpose(P[permutation], Q)[torch.argsort(permutation)]
        updated = permutation.clone()
        for group in _species_groups(species):
            cost = torch.cdist(moved[group], Q[group]).square()
            rows, cols = linear_sum_assignment(cost.detach().cpu().numpy())
            updated[group[torch.as_tensor(cols)]] = group[torch.as_tensor(rows)]
        if torch.equal(updated, permutation):
            break
        permutation = updated
    return permutation


def permutation_aware_rmsd(P: Tensor, Q: Tensor, species: Tensor, *, max_iterations: int = 20,
                           brute_force_limit: int = 720) -> tuple[Tensor, Tensor]:
    """Aligned RMSD minimised over permutations that exchange atoms of the same species.

    Exact by brute force when the number of species-preserving permutations (prod_s n_s!) is at most
    ``brute_force_limit``. Otherwise a heuristic local optimum: starting from the given order, alternate
    (1) Kabsch alignment and (2) a per-species Hungarian assignment on squared distances; both steps never
    increase the RMSD, and it stops when the assignment no longer changes.

    Args:
        P: mobile structure ``[N, 3]`` (Angstrom).
        Q: reference structure ``[N, 3]``.
        species: atomic numbers ``[N]``, shared by P and Q (atom i of P and of Q are the same element).

    Returns:
        rmsd (scalar tensor, Angstrom) and the permutation ``[N]`` such that ``P[permutation]`` matches Q.
    """
    counts = torch.unique(species, return_counts=True)[1]
    num_permutations = math.prod(math.factorial(int(n)) for n in counts)
    if num_permutations <= brute_force_limit:
        permutations = _all_species_permutations(species)
        rmsds = aligned_rmsd(P[permutations], Q.expand(permutations.shape[0], -1, -1))
        best = int(torch.argmin(rmsds))
        return rmsds[best], permutations[best]
    permutation = _assignment_refinement(P, Q, species, max_iterations)
    return aligned_rmsd(P[permutation], Q), permutation
