"""Reaction-mode overlap (invariances, hand-made cases) and the saddle-choice rule with stub refinements."""

from __future__ import annotations

import math

import torch

from genforge.domains.transition_states.refine import Refinement
from genforge.domains.transition_states.saddle_choice import SaddleRule, reaction_mode_overlap, search_saddle


def _rotation(generator: torch.Generator) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r))
    return q if torch.det(q) > 0 else -q


def test_overlap_of_a_stretch_along_the_breaking_bond_is_one_and_of_a_rigid_shift_zero() -> None:
    # A-B-C: the A-B bond breaks from R to P while B-C and A-C follow rigidly along the line.
    reactant = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    product = torch.tensor([[-1.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    ts = (reactant + product) / 2
    stretch = torch.tensor([[-1.0, 0, 0], [0.0, 0, 0], [0.0, 0, 0]], dtype=torch.float64)
    assert math.isclose(reaction_mode_overlap(ts, stretch, reactant, product), 1.0, abs_tol=1e-12)
    other = torch.tensor([[0.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)  # B-C stretch instead
    assert reaction_mode_overlap(ts, other, reactant, product) < 0.5
    shift = torch.ones(3, 3, dtype=torch.float64)
    assert reaction_mode_overlap(ts, shift, reactant, product) == 0.0


def test_overlap_is_invariant_to_rigid_motions_and_atom_permutations() -> None:
    generator = torch.Generator().manual_seed(0)
    reactant, product, ts, mode = (torch.randn(7, 3, generator=generator, dtype=torch.float64) * 1.5
                                   for _ in range(4))
    value = reaction_mode_overlap(ts, mode, reactant, product)
    rotation = _rotation(generator)
    moved = reaction_mode_overlap(ts @ rotation.T + 3.0, mode @ rotation.T, reactant @ _rotation(generator).T,
                                  product @ _rotation(generator).T - 1.0)
    assert math.isclose(value, moved, rel_tol=1e-10)
    permutation = torch.randperm(7, generator=generator)
    permuted = reaction_mode_overlap(ts[permutation], mode[permutation], reactant[permutation],
                                     product[permutation])
    assert math.isclose(value, permuted, rel_tol=1e-10)
    assert 0.0 < value < 1.0


def _result(positions: torch.Tensor, mode: torch.Tensor | None, *, imaginary: int) -> Refinement:
    return Refinement(positions, -1.0, 10, True, imaginary, 0.1, (500.0,) * imaginary, mode)


def test_search_stops_at_the_first_matching_saddle_else_keeps_the_best_else_the_guess() -> None:
    reactant = torch.tensor([[0.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    product = torch.tensor([[-1.0, 0, 0], [1.0, 0, 0], [2.0, 0, 0]], dtype=torch.float64)
    ts = (reactant + product) / 2
    matching = torch.tensor([[-1.0, 0, 0], [0.0, 0, 0], [0.0, 0, 0]], dtype=torch.float64)
    unrelated = torch.tensor([[0.0, 0, 0], [0.0, 0, 0], [1.0, 0, 0]], dtype=torch.float64)
    guesses = [ts + 0.01, ts + 0.02]
    calls: list[int] = []

    def refine_with(outcomes: list[Refinement]):
        def refine(index: int, guess: torch.Tensor) -> Refinement:
            calls.append(index)
            return outcomes[index]
        return refine

    good = _result(ts, matching, imaginary=1)
    found = search_saddle(guesses, refine_with([good, good]), reactant, product, SaddleRule(0.5))
    assert calls == [0] and found.chosen is good and found.guess_index == 0

    calls.clear()
    weak = _result(ts + 0.1, unrelated, imaginary=1)
    second_order = _result(ts + 0.2, matching, imaginary=2)
    found = search_saddle(guesses, refine_with([weak, second_order]), reactant, product, SaddleRule(0.5))
    assert calls == [0, 1] and found.chosen is weak and torch.equal(found.positions, weak.positions)

    calls.clear()
    found = search_saddle(guesses, refine_with([second_order, second_order]), reactant, product, SaddleRule(0.5))
    assert found.chosen is None and found.guess_index == -1 and torch.equal(found.positions, guesses[0])
    assert len(found.tried) == 2
