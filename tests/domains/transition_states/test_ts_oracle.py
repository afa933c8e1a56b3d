"""GFN2-xTB oracle: finite energies, forces = -dE/dx, invariance, failures recorded not raised."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.geometry.rotations import random_rotations
from genforge.datasets.rdb7 import load_rdb7
from genforge.domains.transition_states.oracle import XtbError, XtbOracle

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "rdb7"


@pytest.fixture(scope="module")
def cyanogen_ts(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.Tensor, torch.Tensor]:
    """The 4-atom TS of rxn 5207 (N#C-C#N -> C#N+-C#N isomerisation): species [4], positions [4, 3]."""
    reaction = load_rdb7(FIXTURE, cache_dir=tmp_path_factory.mktemp("cache")).reactions[4]
    return reaction.species, reaction.pos_ts


def test_forces_are_minus_the_energy_gradient(cyanogen_ts: tuple[torch.Tensor, torch.Tensor]) -> None:
    species, positions = cyanogen_ts
    oracle = XtbOracle(accuracy=0.01)
    result = oracle.single_point(species, positions)
    assert torch.isfinite(torch.tensor(result.energy)) and result.forces.shape == (4, 3)
    step = 1e-4
    displacements = step * torch.eye(12, dtype=torch.float64).reshape(12, 4, 3)
    plus = torch.tensor([oracle.single_point(species, positions + d).energy for d in displacements],
                        dtype=torch.float64)
    minus = torch.tensor([oracle.single_point(species, positions - d).energy for d in displacements],
                         dtype=torch.float64)
    finite_difference_forces = -((plus - minus) / (2 * step)).reshape(4, 3)
    assert result.forces.abs().max() > 0.1
    torch.testing.assert_close(result.forces, finite_difference_forces, atol=2e-5, rtol=0)


def test_energy_is_invariant_and_forces_equivariant_under_rigid_motion(
        cyanogen_ts: tuple[torch.Tensor, torch.Tensor]) -> None:
    species, positions = cyanogen_ts
    rotation = random_rotations(1, torch.Generator().manual_seed(0), dtype=torch.float64)[0]
    oracle = XtbOracle()
    original = oracle.single_point(species, positions)
    moved = oracle.single_point(species, positions @ rotation.mT + torch.tensor([1.0, -2.0, 0.5]).double())
    assert moved.energy == pytest.approx(original.energy, abs=1e-7)
    torch.testing.assert_close(moved.forces, original.forces @ rotation.mT, atol=1e-6, rtol=0)


def test_batch_evaluation_matches_single_points_and_records_failures(tmp_path: Path) -> None:
    reactions = load_rdb7(FIXTURE, cache_dir=tmp_path).reactions.select(torch.tensor([2, 4, 3]))
    positions = reactions.pos_ts.clone()
    positions[reactions.ptr[1] + 1] = positions[reactions.ptr[1]]  # two atoms on top of each other
    oracle = XtbOracle()
    result = oracle.evaluate(reactions.species, positions, reactions.batch, charge=reactions.charge,
                             multiplicity=reactions.multiplicity)
    assert result.ok.tolist() == [True, False, True]
    assert [index for index, _ in result.failures] == [1]
    assert torch.isnan(result.forces[reactions.batch == 1]).all()
    for index in (0, 2):
        reaction = reactions[index]
        single = oracle.single_point(reaction.species, reaction.pos_ts)
        assert float(result.energy[index]) == pytest.approx(single.energy, abs=1e-9)
        torch.testing.assert_close(result.forces[reactions.batch == index], single.forces)
    with pytest.raises(XtbError):
        oracle.single_point(reactions[1].species, positions[reactions.batch == 1])


def test_unconverged_scf_is_reported(cyanogen_ts: tuple[torch.Tensor, torch.Tensor]) -> None:
    species, positions = cyanogen_ts
    result = XtbOracle(max_iterations=1).evaluate(species, positions, torch.zeros(4, dtype=torch.long))
    assert not result.ok.any()
    assert result.failures == ((0, "SCF not converged in 1 cycles"),)
