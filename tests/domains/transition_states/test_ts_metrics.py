"""TS metrics: RMSD on hand-made cases, permutation awareness, barrier error units, summary statistics."""

from __future__ import annotations

import pytest
import torch

from genforge.core.geometry.rotations import random_rotations
from genforge.datasets.rdb7 import KCAL_PER_MOL_PER_EV
from genforge.domains.transition_states.metrics import (
    TsScores,
    aligned_atom_errors,
    reactive_atoms,
    score_transition_states,
)

F64 = torch.float64


def _molecule(seed: int, species: list[int]) -> torch.Tensor:
    return 1.5 * torch.randn(len(species), 3, generator=torch.Generator().manual_seed(seed), dtype=F64)


def _score(generated: torch.Tensor, reference: torch.Tensor, species: torch.Tensor, batch: torch.Tensor,
           energy_generated: torch.Tensor | None = None) -> TsScores:
    count = int(batch.max()) + 1
    return score_transition_states(
        species, generated, reference, batch,
        energy_generated=torch.zeros(count, dtype=F64) if energy_generated is None else energy_generated,
        energy_reference=torch.zeros(count, dtype=F64), seconds=torch.ones(count, dtype=F64))


def test_rotated_translated_copy_has_zero_rmsd() -> None:
    species = torch.tensor([6, 8, 1, 1, 7, 6, 1])
    reference = torch.cat([_molecule(0, species[:4].tolist()), _molecule(1, species[4:].tolist())])
    batch = torch.tensor([0] * 4 + [1] * 3)
    rotations = random_rotations(2, torch.Generator().manual_seed(2), dtype=F64)
    shift = torch.tensor([[1.0, 2.0, 3.0]], dtype=F64)
    generated = torch.einsum("nij,nj->ni", rotations[batch], reference) + shift
    scores = _score(generated, reference, species, batch)
    assert scores.rmsd.max() < 1e-10 and scores.permutation_rmsd.max() < 1e-10


def test_hand_made_rmsd_and_permutation_awareness() -> None:
    species = torch.tensor([6, 1, 1, 8])
    reference = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [-1.0, 0.5, 0.0], [0.0, 0.0, 1.2]], dtype=F64)
    swapped = reference[[0, 2, 1, 3]]
    batch = torch.zeros(4, dtype=torch.long)
    scores = _score(swapped, reference, species, batch)
    assert scores.rmsd[0] > 0.1 and scores.permutation_rmsd[0] < 1e-10
    # Scaling about the centroid by s: the best superposition is the identity, so
    # RMSD = |s - 1| * sqrt(mean |x_i - centroid|^2).
    centred = reference - reference.mean(0)
    scaled = reference.mean(0) + 1.1 * centred
    expected = 0.1 * float(centred.square().sum(-1).mean().sqrt())
    assert float(_score(scaled, reference, species, batch).rmsd[0]) == pytest.approx(expected, abs=1e-12)


def test_barrier_error_in_kcal_per_mol_and_summary() -> None:
    species = torch.tensor([1, 1] * 4)
    reference = torch.tensor([[0.0, 0.0, 0.0], [0.74, 0.0, 0.0]] * 4, dtype=F64)
    batch = torch.arange(4).repeat_interleave(2)
    generated = reference.clone()
    generated[1::2, 0] = torch.tensor([0.74, 0.84, 0.94, 1.14], dtype=F64)
    energies = torch.tensor([0.5, 1.0, float("nan"), 0.04], dtype=F64)
    scores = _score(generated, reference, species, batch, energy_generated=energies)
    assert scores.barrier_error[1] == pytest.approx(KCAL_PER_MOL_PER_EV)
    summary = scores.summary()
    assert summary["reactions"] == 4 and summary["barrier_missing"] == 1
    assert summary["barrier_error_median"] == pytest.approx(0.5 * KCAL_PER_MOL_PER_EV)
    assert summary["barrier_error_below_threshold"] == pytest.approx(1 / 3)
    rmsd = torch.tensor([0.0, 0.05, 0.1, 0.2], dtype=F64)
    assert summary["rmsd_median"] == pytest.approx(float((rmsd[1] + rmsd[2]) / 2))
    assert summary["rmsd_mean"] == pytest.approx(float(rmsd.mean()))
    assert summary["seconds_per_ts"] == 1.0


def test_reactive_atoms_mark_the_bonds_that_change() -> None:
    # reaction 0: H-H + H -> H + H-H (collinear) with a far O spectator; reaction 1: an O-H pair that stays bonded
    species = torch.tensor([1, 1, 1, 8, 8, 1])
    batch = torch.tensor([0, 0, 0, 0, 1, 1])
    reactant = torch.tensor([[0.0, 0, 0], [0.74, 0, 0], [3.0, 0, 0], [0, 6.0, 0], [0, 0, 0], [0.97, 0, 0]], dtype=F64)
    product = torch.tensor([[-1.5, 0, 0], [0.74, 0, 0], [1.48, 0, 0], [0, 6.0, 0], [0, 0, 0], [0.0, 1.0, 0]], dtype=F64)
    assert reactive_atoms(species, reactant, product, batch).tolist() == [True, True, True, False, False, False]


def test_atom_errors_are_the_terms_of_the_squared_rmsd() -> None:
    species = torch.tensor([6, 1, 1, 8, 1, 1, 1])
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    reference = _molecule(0, species.tolist())
    generated = reference + 0.3 * _molecule(1, species.tolist())
    errors = aligned_atom_errors(generated, reference, batch)
    per_reaction = torch.zeros(2, dtype=F64).index_add_(0, batch, errors) / torch.bincount(batch).double()
    assert torch.allclose(per_reaction.sqrt(), _score(generated, reference, species, batch).rmsd, atol=1e-10)
    assert errors.min() >= 0 and errors.max() > 1e-3
