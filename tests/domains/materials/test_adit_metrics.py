"""EDM molecule metrics on hand-made cases: real QM9 geometries are stable and valid, broken ones are not."""

from __future__ import annotations

import pytest
import torch
from materials_adit_fixtures import QM9_FIRST, molecule

from genforge.domains.materials.molecule_metrics import (
    analyse,
    atom_stable,
    bond_orders,
    canonical_smiles,
    molecule_metrics,
)


@pytest.mark.parametrize("index", range(len(QM9_FIRST)))
def test_real_qm9_molecules_are_stable_valid_and_match_their_smiles(index: int) -> None:
    report = analyse(*molecule(index))
    assert report.stable and report.atoms_stable == report.atoms_total
    assert {report.smiles} == canonical_smiles([QM9_FIRST[index][0]])


@pytest.mark.parametrize(("pair", "distance", "order"), [
    ((6, 6), 1.22, 3), ((6, 6), 1.24, 2), ((6, 6), 1.38, 2), ((6, 6), 1.40, 1), ((6, 6), 1.63, 1),
    ((6, 6), 1.65, 0), ((1, 1), 0.83, 1), ((1, 1), 0.85, 0), ((6, 8), 1.15, 3), ((7, 8), 1.25, 2),
    ((1, 6), 1.18, 1), ((1, 6), 1.20, 0), ((9, 9), 1.50, 1), ((1, 8), 0.5, 1)])
def test_bond_orders_follow_edm_thresholds(pair: tuple[int, int], distance: float, order: int) -> None:
    """Thresholds (pm) = EDM length + margin: C-C triple 120+3, double 134+5, single 154+10; H-H 74+10 ..."""
    pos = torch.tensor([[0.0, 0.0, 0.0], [distance, 0.0, 0.0]])
    orders = bond_orders(torch.tensor(pair), pos)
    assert orders.tolist() == [[0, order], [order, 0]]


def test_pulled_hydrogen_breaks_stability_but_not_validity() -> None:
    species, pos = molecule(0)  # methane
    pos = pos.clone()
    pos[4] += 3.0 * (pos[4] - pos[0]) / (pos[4] - pos[0]).norm()
    report = analyse(species, pos)
    assert not report.stable and report.atoms_stable == 3  # the carbon (3 bonds) and the lone H fail
    assert report.smiles == "C"  # largest fragment CH3 sanitises with an implicit hydrogen


def test_compressed_molecule_is_over_bonded_and_invalid() -> None:
    species, pos = molecule(2)  # water
    report = analyse(species, 0.5 * pos)  # H-H at 0.76 A now bonds: each H has two bonds, O still two
    assert not report.stable and report.smiles is None
    assert atom_stable(species, bond_orders(species, 0.5 * pos)).tolist() == [True, False, False]


def test_unknown_element_is_never_stable() -> None:
    species, pos = molecule(2)
    assert not analyse(torch.tensor([26, 1, 1]), pos).stable and analyse(species, pos).stable


def test_uniqueness_and_novelty_counts() -> None:
    water, methane = molecule(2), molecule(0)
    broken = (water[0], 0.5 * water[1])
    metrics = molecule_metrics([water, water, methane, broken], train_smiles=canonical_smiles(["O"]))
    assert metrics["validity"] == pytest.approx(3 / 4)
    assert metrics["uniqueness"] == pytest.approx(2 / 3)
    assert metrics["novelty"] == pytest.approx(1 / 2)
    assert metrics["mol_stability"] == pytest.approx(3 / 4)
    assert metrics["atom_stability"] == pytest.approx(12 / 14)
