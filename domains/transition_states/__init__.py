"""Transition states: generate a reaction's TS from its reactant and product (TS-GEN / React-OT).

This slice holds the GFN2-xTB oracle, the non-learned baselines and the metrics; see README.md.
"""

from genforge.domains.transition_states.baselines import (
    IdppGuess,
    idpp_highest_image,
    idpp_path,
    linear_midpoint,
)
from genforge.domains.transition_states.metrics import (
    BARRIER_THRESHOLD_KCAL_PER_MOL,
    TsScores,
    permutation_rmsds,
    score_transition_states,
)
from genforge.domains.transition_states.oracle import OracleResult, SinglePoint, XtbError, XtbOracle

__all__ = [
    "BARRIER_THRESHOLD_KCAL_PER_MOL",
    "IdppGuess",
    "OracleResult",
    "SinglePoint",
    "TsScores",
    "XtbError",
    "XtbOracle",
    "idpp_highest_image",
    "idpp_path",
    "linear_midpoint",
    "permutation_rmsds",
    "score_transition_states",
]
