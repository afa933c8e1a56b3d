"""Linear-midpoint and IDPP baselines: symmetry, rigid-motion behaviour, end points, highest image."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.geometry.kabsch import aligned_rmsd, superpose
from genforge.core.geometry.rotations import random_rotations
from genforge.datasets.rdb7 import ReactionBatch, load_rdb7
from genforge.domains.transition_states.baselines import idpp_highest_image, idpp_path, linear_midpoint
from genforge.domains.transition_states.oracle import XtbOracle

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "rdb7"


@pytest.fixture(scope="module")
def reactions(tmp_path_factory: pytest.TempPathFactory) -> ReactionBatch:
    return load_rdb7(FIXTURE, cache_dir=tmp_path_factory.mktemp("cache")).reactions


def _rigid_motion(positions: torch.Tensor, batch: torch.Tensor, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    rotations = random_rotations(int(batch.max()) + 1, generator, dtype=torch.float64)
    shifts = 3.0 * torch.randn(rotations.shape[0], 3, generator=generator, dtype=torch.float64)
    return torch.einsum("nij,nj->ni", rotations[batch], positions) + shifts[batch]


def test_midpoint_is_symmetric_in_reactant_and_product(reactions: ReactionBatch) -> None:
    forward = linear_midpoint(reactions.pos_reactant, reactions.pos_product, reactions.batch)
    backward = linear_midpoint(reactions.pos_product, reactions.pos_reactant, reactions.batch)
    assert aligned_rmsd(forward, backward, batch=reactions.batch).max() < 1e-10
    assert aligned_rmsd(forward, reactions.pos_reactant, batch=reactions.batch).min() > 0.05


def test_midpoint_follows_the_reactant_and_ignores_product_motion(reactions: ReactionBatch) -> None:
    batch = reactions.batch
    reference = linear_midpoint(reactions.pos_reactant, reactions.pos_product, batch)
    moved_reactant = _rigid_motion(reactions.pos_reactant, batch, seed=1)
    moved_product = _rigid_motion(reactions.pos_product, batch, seed=2)
    moved = linear_midpoint(moved_reactant, moved_product, batch)
    torch.testing.assert_close(moved, superpose(reference, moved_reactant, batch=batch), atol=1e-10, rtol=0)
    torch.testing.assert_close(moved, _rigid_motion(reference, batch, seed=1), atol=1e-10, rtol=0)


def test_midpoint_of_a_rigidly_moved_copy_is_the_structure(reactions: ReactionBatch) -> None:
    moved = _rigid_motion(reactions.pos_reactant, reactions.batch, seed=3)
    torch.testing.assert_close(linear_midpoint(reactions.pos_reactant, moved, reactions.batch),
                               reactions.pos_reactant, atol=1e-10, rtol=0)


def test_idpp_path_ends_at_reactant_and_aligned_product(reactions: ReactionBatch) -> None:
    reaction = reactions[2]
    path = idpp_path(reaction.species, reaction.pos_reactant, reaction.pos_product, num_images=7)
    assert path.shape == (7, 6, 3)
    torch.testing.assert_close(path[0], reaction.pos_reactant)
    torch.testing.assert_close(path[-1], superpose(reaction.pos_product, reaction.pos_reactant))
    steps = (path[1:] - path[:-1]).norm(dim=-1).max(dim=-1).values
    assert steps.max() < 0.6 * (path[-1] - path[0]).norm(dim=-1).max()


def test_idpp_guess_is_the_highest_scored_image(reactions: ReactionBatch) -> None:
    reaction = reactions[3]
    oracle = XtbOracle()
    guess = idpp_highest_image(reaction.species, reaction.pos_reactant, reaction.pos_product, oracle)
    assert guess.image_energies.shape == (7,) and torch.isfinite(guess.image_energies).all()
    assert guess.energy == float(guess.image_energies.max())
    rescored = oracle.single_point(reaction.species, guess.positions).energy
    assert rescored == pytest.approx(guess.energy, abs=1e-9)
    interior = idpp_path(reaction.species, reaction.pos_reactant, reaction.pos_product)[1:-1]
    assert torch.equal(guess.positions, interior[int(guess.image_energies.argmax())])


def test_idpp_returns_the_middle_image_when_xtb_fails_everywhere(reactions: ReactionBatch) -> None:
    reaction = reactions[4]
    guess = idpp_highest_image(reaction.species, reaction.pos_reactant, reaction.pos_product,
                               XtbOracle(max_iterations=1), num_images=5)
    assert torch.isnan(guess.image_energies).all() and guess.energy != guess.energy
    interior = idpp_path(reaction.species, reaction.pos_reactant, reaction.pos_product, num_images=5)[1:-1]
    assert torch.equal(guess.positions, interior[1])
