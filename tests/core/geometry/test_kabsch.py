"""Kabsch alignment, aligned RMSD and permutation-aware RMSD."""

from __future__ import annotations

import torch

from genforge.core.geometry.kabsch import aligned_rmsd, kabsch, permutation_aware_rmsd, superpose
from genforge.core.geometry.rotations import random_rotations

F64 = torch.float64


def _cloud(n: int, seed: int) -> torch.Tensor:
    return 2.0 * torch.randn(n, 3, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_recovers_known_rotation_padded_and_graph_layouts() -> None:
    generator = torch.Generator().manual_seed(0)
    rotations = random_rotations(3, generator, dtype=F64)
    translations = torch.randn(3, 3, generator=generator, dtype=F64)
    sizes = [4, 7, 5]
    P = torch.randn(3, 7, 3, generator=generator, dtype=F64)
    mask = torch.arange(7)[None, :] < torch.tensor(sizes)[:, None]
    Q = P @ rotations.mT + translations[:, None, :]
    Q = torch.where(mask[..., None], Q, torch.full_like(Q, 1e3))
    rotation, translation = kabsch(P, Q, mask=mask)
    assert torch.allclose(rotation, rotations, atol=1e-10)
    assert torch.allclose(translation, translations, atol=1e-10)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor(sizes))
    rotation_graph, _ = kabsch(P[mask], Q[mask], batch=batch)
    assert torch.allclose(rotation_graph, rotations, atol=1e-10)
    assert torch.allclose(superpose(P[mask], Q[mask], batch=batch), Q[mask], atol=1e-10)


def test_never_returns_a_reflection() -> None:
    P = _cloud(10, 1)
    mirrored = P * torch.tensor([1.0, 1.0, -1.0], dtype=F64)
    rotation, _ = kabsch(P, mirrored)
    assert torch.isclose(torch.linalg.det(rotation), torch.tensor(1.0, dtype=F64), atol=1e-12)
    assert aligned_rmsd(P, mirrored) > 0.1


def test_rmsd_is_minimal_and_invariant_to_rigid_motions() -> None:
    P, Q = _cloud(12, 2), _cloud(12, 3)
    rmsd = aligned_rmsd(P, Q)
    generator = torch.Generator().manual_seed(4)
    centred_P, centred_Q = P - P.mean(0), Q - Q.mean(0)
    trial = centred_P @ random_rotations(4000, generator, dtype=F64).mT
    trial_rmsd = (trial - centred_Q).square().sum(-1).mean(-1).sqrt()
    assert rmsd <= trial_rmsd.min() + 1e-12
    rotation = random_rotations(2, generator, dtype=F64)
    moved_P = P @ rotation[0].mT + torch.tensor([1.0, -2.0, 3.0], dtype=F64)
    moved_Q = Q @ rotation[1].mT - 5.0
    assert torch.isclose(aligned_rmsd(moved_P, moved_Q), rmsd, atol=1e-10)


def test_permutation_aware_rmsd_finds_a_swap_of_identical_atoms() -> None:
    species = torch.tensor([6, 1, 1, 8, 1, 6, 1])
    P = _cloud(7, 5)
    swap = torch.tensor([0, 4, 2, 3, 1, 5, 6])
    rotation = random_rotations(1, torch.Generator().manual_seed(6), dtype=F64)[0]
    Q = P[swap] @ rotation.mT + 1.5
    assert aligned_rmsd(P, Q) > 0.1
    for limit in (720, 1):
        rmsd, permutation = permutation_aware_rmsd(P, Q, species, brute_force_limit=limit)
        assert rmsd < 1e-10
        assert torch.equal(permutation, swap)


def test_brute_force_is_the_optimum_over_species_preserving_permutations() -> None:
    species = torch.tensor([1, 1, 1, 8, 8, 6])
    P, Q = _cloud(6, 7), _cloud(6, 8)
    exact, permutation = permutation_aware_rmsd(P, Q, species)
    heuristic, heuristic_permutation = permutation_aware_rmsd(P, Q, species, brute_force_limit=1)
    assert torch.equal(species[permutation], species)
    assert torch.equal(species[heuristic_permutation], species)
    assert torch.isclose(exact, aligned_rmsd(P[permutation], Q))
    assert exact <= heuristic + 1e-12
    assert exact < aligned_rmsd(P, Q)
