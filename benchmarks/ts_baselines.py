"""Transition-state baselines on RDB7 validation reactions, scored with GFN2-xTB.

``python -m benchmarks.ts_baselines --num 200`` draws a fixed random subset (``--seed``) of the validation
split (:func:`genforge.datasets.rdb7.split_reactions`, 10 %, seed 0), builds the aligned linear midpoint and
the IDPP highest-energy image for each reaction, scores both against the DFT reference TS
(:mod:`genforge.domains.transition_states.metrics`), prints a markdown table and appends it to
benchmarks/RESULTS.md; ``--write-readme`` also replaces the measured table in
domains/transition_states/README.md. Context lines: the xTB single-point time, and the GFN2-xTB barrier of
the reference TS, E(TS) - E(R), against the CCSD(T)-F12 barrier of the data set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from benchmarks.results import publish
from genforge.datasets.rdb7 import KCAL_PER_MOL_PER_EV, ReactionBatch, load_rdb7, split_reactions
from genforge.domains.transition_states.baselines import idpp_highest_image, linear_midpoint
from genforge.domains.transition_states.metrics import (
    BARRIER_THRESHOLD_KCAL_PER_MOL,
    TsScores,
    score_transition_states,
)
from genforge.domains.transition_states.oracle import XtbOracle

README = Path(__file__).resolve().parents[1] / "domains" / "transition_states" / "README.md"


def validation_subset(num: int, seed: int, data_root: str | None) -> ReactionBatch:
    """``num`` validation reactions (all if fewer), drawn without replacement by ``seed``, sorted by index."""
    data = load_rdb7(data_root)
    val = split_reactions(data.reactions.rxn_id).val
    chosen = torch.randperm(val.shape[0], generator=torch.Generator().manual_seed(seed))[:num]
    return data.reactions.select(torch.sort(val[chosen]).values)


def evaluate(reactions: ReactionBatch, oracle: XtbOracle, num_images: int) -> tuple[dict[str, TsScores], str]:
    """Scores of both baselines and a markdown paragraph of context (xTB timing and xTB-vs-CCSD(T))."""
    species, batch = reactions.species, reactions.batch
    charges = {"charge": reactions.charge, "multiplicity": reactions.multiplicity}
    reference = oracle.evaluate(species, reactions.pos_ts, batch, **charges)
    reactant = oracle.evaluate(species, reactions.pos_reactant, batch, **charges)

    start = time.perf_counter()
    midpoint = linear_midpoint(reactions.pos_reactant, reactions.pos_product, batch)
    midpoint_seconds = torch.full((len(reactions),), (time.perf_counter() - start) / len(reactions))
    midpoint_energy = oracle.evaluate(species, midpoint, batch, **charges).energy

    guesses = [idpp_highest_image(r.species, r.pos_reactant, r.pos_product, oracle, charge=r.charge,
                                  multiplicity=r.multiplicity, num_images=num_images) for r in reactions]
    idpp = torch.cat([guess.positions for guess in guesses])
    idpp_energy = torch.tensor([guess.energy for guess in guesses], dtype=torch.float64)
    idpp_seconds = torch.tensor([guess.seconds for guess in guesses], dtype=torch.float64)

    common = {"energy_reference": reference.energy}
    scores = {
        "linear midpoint (aligned R, P)": score_transition_states(
            species, midpoint, reactions.pos_ts, batch, energy_generated=midpoint_energy,
            seconds=midpoint_seconds, **common),
        f"IDPP highest image ({num_images - 2} interior, GFN2-xTB)": score_transition_states(
            species, idpp, reactions.pos_ts, batch, energy_generated=idpp_energy, seconds=idpp_seconds,
            **common),
    }
    xtb_barrier = (reference.energy - reactant.energy) * KCAL_PER_MOL_PER_EV
    deviation = (xtb_barrier - reactions.barrier * KCAL_PER_MOL_PER_EV).abs()
    deviation = deviation[torch.isfinite(deviation)]
    failures = len(reference.failures) + len(reactant.failures)
    atoms = reactions.species.shape[0] / len(reactions)
    milliseconds = 1e3 * float(reference.seconds.quantile(0.5))
    context = (
        f"GFN2-xTB (tblite, 1 OpenMP thread) single point: median {milliseconds:.1f} ms per reference TS "
        f"({atoms:.1f} atoms on average); "
        f"{failures} failed single points on reference TSs and reactants. "
        f"GFN2-xTB barrier of the reference TS vs the CCSD(T)-F12 barrier: mean |difference| "
        f"{float(deviation.mean()):.2f} kcal/mol, median {float(deviation.quantile(0.5)):.2f} kcal/mol "
        f"(how far the oracle itself is from the data's level of theory)."
    )
    return scores, context


def table(scores: dict[str, TsScores]) -> str:
    """Markdown table of the summaries (RMSD in Angstrom, barrier error in kcal/mol, time in s per TS)."""
    rows = ["| method | n | RMSD median / mean (Å) | perm. RMSD median / mean (Å) | barrier error median / "
            f"mean (kcal/mol) | frac. < {BARRIER_THRESHOLD_KCAL_PER_MOL} | no xTB | s per TS |",
            "|---|---|---|---|---|---|---|---|"]
    for name, score in scores.items():
        s = score.summary()
        rows.append(
            f"| {name} | {int(s['reactions'])} | {s['rmsd_median']:.3f} / {s['rmsd_mean']:.3f} | "
            f"{s['permutation_rmsd_median']:.3f} / {s['permutation_rmsd_mean']:.3f} | "
            f"{s['barrier_error_median']:.2f} / {s['barrier_error_mean']:.2f} | "
            f"{s['barrier_error_below_threshold']:.3f} | {int(s['barrier_missing'])} | "
            f"{s['seconds_per_ts']:.2g} |")
    return "\n".join(rows)




def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=200, help="validation reactions to evaluate")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation subset")
    parser.add_argument("--num-images", type=int, default=9, help="IDPP images including both end points")
    parser.add_argument("--data-root", default=None, help="RDB7 folder (default $GENFORGE_DATA/rdb7)")
    parser.add_argument("--write-readme", action="store_true",
                        help="also replace the measured table in domains/transition_states/README.md")
    args = parser.parse_args(argv)

    reactions = validation_subset(args.num, args.seed, args.data_root)
    start = time.perf_counter()
    scores, context = evaluate(reactions, XtbOracle(), args.num_images)
    elapsed = time.perf_counter() - start
    command = (f"python -m benchmarks.ts_baselines --num {args.num} --seed {args.seed} "
               f"--num-images {args.num_images}")
    body = (f"`{command}`: {len(reactions)} RDB7 validation reactions (split seed 0, subset seed "
            f"{args.seed}), reference = DFT TS of the data set, energies GFN2-xTB; {elapsed:.0f} s in all."
            f"\n\n"
            f"{table(scores)}\n\n{context}\n")
    publish("Transition-state baselines (RDB7 validation, GFN2-xTB)", body,
            README if args.write_readme else None, "ts_baselines")


if __name__ == "__main__":
    main()
