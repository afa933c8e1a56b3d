"""Which refined saddle to keep: a reference-free rule over saddle searches started from several guesses.

A saddle search from a generated TS can end at a saddle of another process (a methyl rotation, another
bond change) or at no first-order saddle at all. Without the reference TS, the saddle's own imaginary mode
tells whether it belongs to the reaction: along the reaction's mode the interatomic distances should change
as they do from reactant to product. :func:`reaction_mode_overlap` measures that as |cos| between the two
vectors of distance changes over all atom pairs (rotation-, translation- and permutation-invariant).

:func:`search_saddle` refines the guesses in order and keeps the first first-order saddle whose overlap
reaches ``SaddleRule.min_overlap``; when none does, the first-order saddle with the largest overlap, and
when there is none, the first guess unrefined. :func:`refine_pipeline` is the pipeline settled on with
training reactions (benchmarks/ts_pipeline.py, domain README): the generated TS, then the same TS relaxed with
its changing bonds fixed, ``min_overlap`` 0.3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.domains.transition_states.oracle import XtbOracle
from genforge.domains.transition_states.refine import Refinement, reactive_pairs, refine_saddle


def reaction_mode_overlap(positions: Tensor, mode: Tensor, reactant: Tensor, product: Tensor) -> float:
    """|cos| in [0, 1] between the first-order change of all interatomic distances of ``positions [N, 3]``
    along ``mode [N, 3]`` and their change from ``reactant`` to ``product`` (both ``[N, 3]``, Angstrom, any
    frames: only distances enter)."""
    first, second = torch.triu_indices(positions.shape[0], positions.shape[0], 1)
    separation = positions[first] - positions[second]
    along_mode = (separation * (mode[first] - mode[second])).sum(-1) / separation.norm(dim=-1)
    along_reaction = (product[first] - product[second]).norm(dim=-1) - (reactant[first] - reactant[second]).norm(dim=-1)
    denominator = along_mode.norm() * along_reaction.norm()
    return float((along_mode @ along_reaction).abs() / denominator) if denominator > 0 else 0.0


@dataclass(frozen=True)
class SaddleRule:
    """Accept a refined saddle when it is first-order and its reaction-mode overlap is at least
    ``min_overlap`` (chosen on training reactions, see the domain README)."""

    min_overlap: float = 0.3

    def overlap(self, result: Refinement, reactant: Tensor, product: Tensor) -> float:
        """Reaction-mode overlap of a first-order saddle, -1 for anything else."""
        if not result.first_order_saddle or result.mode is None:
            return -1.0
        return reaction_mode_overlap(result.positions.double(), result.mode.double(), reactant.double(),
                                     product.double())


@dataclass(frozen=True)
class SaddleSearch:
    """Outcome: the kept ``positions [N, 3]`` (Angstrom), the refinement they come from (None: the first guess
    unrefined), the index of its guess (-1: none) and every refinement run, in order."""

    positions: Tensor
    chosen: Refinement | None
    guess_index: int
    tried: list[Refinement]


def search_saddle(guesses: Sequence[Tensor], refine: Callable[[int, Tensor], Refinement], reactant: Tensor,
                  product: Tensor, rule: SaddleRule = SaddleRule()) -> SaddleSearch:
    """Refine ``guesses`` (each ``[N, 3]``) in order with ``refine(index, guess)`` until ``rule`` accepts a
    saddle; else keep the first-order saddle of largest overlap; else the first guess."""
    tried, overlaps = [], []
    for index, guess in enumerate(guesses):
        result = refine(index, guess)
        tried.append(result)
        overlaps.append(rule.overlap(result, reactant, product))
        if overlaps[-1] >= rule.min_overlap:
            return SaddleSearch(result.positions, result, index, tried)
    best = max(range(len(tried)), key=overlaps.__getitem__)
    if overlaps[best] < 0:
        return SaddleSearch(guesses[0], None, -1, tried)
    return SaddleSearch(tried[best].positions, tried[best], best, tried)


PIPELINE_STARTS = ("generated TS", "generated TS relaxed with its changing bonds fixed")
"""The attempts of :func:`refine_pipeline`, in order (benchmarks/ts_pipeline.py names them ``reactot`` and
``reactot-relaxed`` for the React-OT-style model's TS)."""


def refine_pipeline(species: Tensor, guess: Tensor, reactant: Tensor, product: Tensor, oracle: XtbOracle, *,
                    charge: int = 0, multiplicity: int = 1, rule: SaddleRule = SaddleRule()) -> SaddleSearch:
    """The refinement pipeline for one reaction (all ``[N, 3]``, Angstrom): Sella from ``guess``; if ``rule``
    rejects the result, Sella again after relaxing ``guess`` downhill with the bonds that change between
    reactant and product held at their guessed lengths; see :func:`search_saddle` for the choice."""
    pairs = reactive_pairs(species, reactant, product)

    def refine(index: int, start: Tensor) -> Refinement:
        return refine_saddle(species, start, oracle, charge=charge, multiplicity=multiplicity,
                             fixed_pairs=pairs if index == 1 else None)

    return search_saddle([guess, guess], refine, reactant, product, rule)
