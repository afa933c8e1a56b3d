"""Sella + GFN2-xTB saddle refinement started from generated TSs vs from the two trivial guesses.

``python -m benchmarks.ts_refine --num 30`` takes a seeded subset of the RDB7 validation reactions, starts a
Sella saddle search (:mod:`genforge.domains.transition_states.refine`) from the shipped models' TSs, from
the aligned linear midpoint and from the IDPP path's highest-xTB-energy image, and reports the fraction
that converge to a first-order saddle (forces below 0.01 eV/Å, exactly one imaginary frequency), the
optimiser steps (median over all reactions and over those converged from every start) and the RMSD of the
refined saddle to the DFT TS; then each start scored as a pipeline (refined saddle, else the guess) in the
main results table's format. The tables are appended to benchmarks/RESULTS.md and (``--write-readme``)
put in the domain README.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from rich.progress import track

from benchmarks.results import publish
from benchmarks.ts_baselines import table, validation_subset
from genforge.core.geometry.kabsch import aligned_rmsd
from genforge.datasets.rdb7 import ReactionBatch
from genforge.domains.transition_states.baselines import idpp_highest_image, linear_midpoint
from genforge.domains.transition_states.checkpoints import default_checkpoint, load_packaged
from genforge.domains.transition_states.flow import VARIANTS
from genforge.domains.transition_states.metrics import TsScores, score_transition_states
from genforge.domains.transition_states.oracle import XtbOracle
from genforge.domains.transition_states.refine import Refinement, refine_saddle
from genforge.domains.transition_states.tasks import generate_batched

README = Path(__file__).resolve().parents[1] / "domains" / "transition_states" / "README.md"


def _median(values: list[float]) -> float:
    return float(torch.tensor(values, dtype=torch.float64).quantile(0.5)) if values else float("nan")


STARTS = ("midpoint", "idpp", *VARIANTS)
"""Guess kinds: the two trivial ones and the two learned variants."""


def initial_guesses(reactions: ReactionBatch, oracle: XtbOracle,
                    kinds: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, float]]:
    """Guessed TSs ``[N, 3]`` (Angstrom) of every reaction per guess kind, and the seconds per TS each took."""
    starts, seconds = {}, {}
    if "midpoint" in kinds:
        starts["linear midpoint"] = linear_midpoint(reactions.pos_reactant, reactions.pos_product, reactions.batch)
        seconds["linear midpoint"] = 0.0
    if "idpp" in kinds:
        idpp = [idpp_highest_image(r.species, r.pos_reactant, r.pos_product, oracle, charge=r.charge,
                                   multiplicity=r.multiplicity) for r in reactions]
        starts["IDPP highest image"] = torch.cat([guess.positions for guess in idpp])
        seconds["IDPP highest image"] = sum(guess.seconds for guess in idpp) / len(reactions)
    for variant in (v for v in VARIANTS if v in kinds):
        package = load_packaged(default_checkpoint(variant))
        starts[f"{variant} model"], total = generate_batched(
            package.model, variant, reactions, solver=package.solver, steps=package.steps, batch_size=256,
            progress=False)
        seconds[f"{variant} model"] = total / len(reactions)
    return starts, seconds


def pipeline_scores(reactions: ReactionBatch, starts: dict[str, torch.Tensor],
                    results: dict[str, list[Refinement]], guess_seconds: dict[str, float],
                    oracle: XtbOracle) -> dict[str, TsScores]:
    """Scores of "guess, then its refined saddle where one was found": RMSD to the DFT TS and the GFN2-xTB energy
    error against the reference TS, per start (``starts[name]`` ``[N, 3]`` Angstrom)."""
    charges = {"charge": reactions.charge, "multiplicity": reactions.multiplicity}
    species, batch, counts = reactions.species, reactions.batch, torch.bincount(reactions.batch).tolist()
    reference = oracle.evaluate(species, reactions.pos_ts, batch, **charges).energy
    scores = {}
    for name, refined in results.items():
        guesses = starts[name].split(counts)
        positions = torch.cat([r.positions.to(g) if r.first_order_saddle else g
                               for r, g in zip(refined, guesses, strict=True)])
        seconds = torch.tensor([guess_seconds[name] + r.seconds for r in refined], dtype=torch.float64)
        scores[f"{name} + Sella refinement"] = score_transition_states(
            species, positions, reactions.pos_ts, batch, energy_generated=oracle.evaluate(
                species, positions, batch, **charges).energy, energy_reference=reference, seconds=seconds)
    return scores


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=30, help="validation reactions (seeded subset)")
    parser.add_argument("--seed", type=int, default=2, help="seed of the subset")
    parser.add_argument("--fmax", type=float, default=0.01, help="force threshold (eV/Å)")
    parser.add_argument("--max-steps", type=int, default=300, help="Sella step limit")
    parser.add_argument("--data-root", default=None, help="RDB7 folder (default $GENFORGE_DATA/rdb7)")
    parser.add_argument("--starts", nargs="+", choices=STARTS, default=list(STARTS),
                        help="which guesses to refine (default: all)")
    parser.add_argument("--write-readme", action="store_true", help="also put the table in the domain README")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    reactions = validation_subset(args.num, args.seed, args.data_root)
    oracle = XtbOracle()
    starts, guess_seconds = initial_guesses(reactions, oracle, args.starts)
    begin = time.perf_counter()
    counts = torch.bincount(reactions.batch).tolist()
    results: dict[str, list[Refinement]] = {}
    for name, positions in starts.items():
        results[name] = [refine_saddle(r.species, pos, oracle, charge=r.charge, multiplicity=r.multiplicity,
                                       fmax=args.fmax, max_steps=args.max_steps)
                         for r, pos in track(list(zip(reactions, positions.split(counts), strict=True)),
                                             description=f"refining from {name}")]
    every = [i for i in range(len(reactions)) if all(results[n][i].first_order_saddle for n in results)]
    rows = ["| start | first-order saddles | steps median (all that ran) | steps median (saddle from every start) | "
            "RMSD refined → DFT TS median (Å) | s per refinement |", "|---|---|---|---|---|---|"]
    for name, refined in results.items():
        saddles = [r for r in refined if r.first_order_saddle]
        rmsd = [float(aligned_rmsd(r.positions.double(), reactions[i].pos_ts.double()))
                for i, r in enumerate(refined) if r.first_order_saddle]
        ran = [r.steps for r in refined if r.steps >= 0]
        rows.append(f"| {name} | {len(saddles)}/{len(refined)} | {_median(ran):.0f} | "
                    f"{_median([refined[i].steps for i in every]):.0f} | {_median(rmsd):.3f} | "
                    f"{_median([r.seconds for r in refined]):.1f} |")
    command = (f"python -m benchmarks.ts_refine --num {args.num} --seed {args.seed} --fmax {args.fmax}"
               + ("" if list(args.starts) == list(STARTS) else f" --starts {' '.join(args.starts)}"))
    body = (f"`{command}`: {len(reactions)} RDB7 validation reactions; Sella (internal coordinates, order 1) on "
            f"GFN2-xTB, at most {args.max_steps} steps; a first-order saddle = forces < {args.fmax} eV/Å and "
            f"exactly one imaginary frequency (|ν| > 50 cm⁻¹, finite differences); {len(every)} reactions reach "
            f"one from every start; {time.perf_counter() - begin:.0f} s in all.\n\n" + "\n".join(rows) + "\n")
    body += ("\nThe same reactions scored as a pipeline (guess, then the refined saddle where Sella found a "
             "first-order one, else the guess itself), in the format of the main results table; time = guess + "
             "refinement:\n\n"
             + table(pipeline_scores(reactions, starts, results, guess_seconds, oracle)) + "\n")
    publish("Transition-state saddle refinement from generated vs interpolated guesses (Sella, GFN2-xTB)", body,
            README if args.write_readme else None, "ts_refine")


if __name__ == "__main__":
    main()
