"""Learned TS models (TS-GEN-style and React-OT-style flow matching) vs the midpoint and IDPP baselines.

``python -m benchmarks.ts_models --num 1073 --write-readme`` scores, on the RDB7 validation reactions
(split seed 0; ``--num`` draws a seeded subset as ``benchmarks.ts_baselines`` does), the two models and the
two baselines with one protocol (:mod:`genforge.domains.transition_states.metrics`: Kabsch RMSD and
permutation-aware RMSD to the DFT TS, GFN2-xTB barrier error, wall time per TS on CPU), prints one
markdown table, appends it to benchmarks/RESULTS.md and (``--write-readme``) puts it in the domain README.

Models come from training runs (``--from-runs``: the EMA weights of ``runs/ts_<variant>_cpu/last.pt``, which
are then packaged as the shipped ``domains/transition_states/checkpoints/<variant>_rdb7.pt`` + ``.json``
with the metrics reached) or from the shipped checkpoints. ``--xtb-num`` limits the xTB barrier errors to
a seeded subset of the reactions (RMSD and time are always over all of them). A second table sweeps the
number of ODE steps (RMSD only).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from pathlib import Path

import torch

from benchmarks.results import publish
from benchmarks.ts_baselines import evaluate as evaluate_baselines
from benchmarks.ts_baselines import table, validation_subset
from genforge.datasets.rdb7 import ReactionBatch, load_rdb7, split_reactions
from genforge.domains.transition_states.checkpoints import (
    PackagedModel,
    TsModelConfig,
    default_checkpoint,
    load_packaged,
    model_from_run,
    save_packaged,
)
from genforge.domains.transition_states.flow import VARIANTS, Variant
from genforge.domains.transition_states.metrics import TsScores, score_transition_states
from genforge.domains.transition_states.oracle import XtbOracle
from genforge.domains.transition_states.tasks import generate_batched, rmsd_summary

README = Path(__file__).resolve().parents[1] / "domains" / "transition_states" / "README.md"
LABELS = {"tsgen": "TS-GEN-style flow (noise -> TS given R, P)", "reactot": "React-OT-style bridge (midpoint -> TS)"}
DEFAULT_SOLVER, DEFAULT_STEPS = "euler", 4


def packaged_from_run(variant: Variant, run_dir: Path, solver: str, steps: int
                      ) -> tuple[PackagedModel, TsModelConfig, dict]:
    """The run's EMA model as a :class:`PackagedModel` (elements of the RDB7 train split), its size and card."""
    run = model_from_run(run_dir)
    data = load_rdb7(run.recipe.get("data_root"))
    train = split_reactions(data.reactions.rxn_id).train
    elements = tuple(sorted(data.reactions.select(train).species.unique().tolist()))
    card = {"recipe": run.recipe, "steps_trained": run.step}
    return PackagedModel(run.model, variant, solver, steps, elements), run.model_cfg, card


def score_model(package: PackagedModel, reactions: ReactionBatch, oracle: XtbOracle, energy_reference: torch.Tensor,
                xtb_mask: torch.Tensor, batch_size: int) -> TsScores:
    """Generate (batched, timed) and score; xTB only on reactions where ``xtb_mask`` is True (NaN elsewhere)."""
    generate_batched(package.model, package.variant, reactions.select(torch.arange(2)), solver=package.solver,
                     steps=package.steps, batch_size=batch_size, progress=False)  # warm-up, not timed
    generated, seconds = generate_batched(package.model, package.variant, reactions, solver=package.solver,
                                          steps=package.steps, batch_size=batch_size)
    energy = torch.full((len(reactions),), math.nan, dtype=torch.float64)
    if xtb_mask.any():
        chosen = torch.nonzero(xtb_mask).flatten()
        subset = reactions.select(chosen)
        atoms = torch.cat([torch.arange(int(reactions.ptr[i]), int(reactions.ptr[i + 1])) for i in chosen.tolist()])
        energy[chosen] = oracle.evaluate(subset.species, generated[atoms], subset.batch, charge=subset.charge,
                                         multiplicity=subset.multiplicity).energy
    return score_transition_states(reactions.species, generated, reactions.pos_ts, reactions.batch,
                                   energy_generated=energy, energy_reference=energy_reference,
                                   seconds=torch.full((len(reactions),), seconds / len(reactions)))


def single_latency(package: PackagedModel, reactions: ReactionBatch, num: int) -> float:
    """Median wall seconds to generate one TS alone (batch of one) over the first ``num`` reactions."""
    times = []
    for index in range(min(num, len(reactions))):
        one = reactions.select(torch.tensor([index]))
        start = time.perf_counter()
        generate_batched(package.model, package.variant, one, solver=package.solver, steps=package.steps,
                         batch_size=1, progress=False)
        times.append(time.perf_counter() - start)
    return float(torch.tensor(times).median())


def steps_sweep(packages: dict[str, PackagedModel], reactions: ReactionBatch, steps: tuple[int, ...],
                batch_size: int) -> str:
    """Markdown table: median / mean RMSD of each model at each number of Euler steps."""
    rows = ["| model | " + " | ".join(f"{n} step{'s' if n > 1 else ''}" for n in steps) + " |",
            "|---|" + "---|" * len(steps)]
    for variant, package in packages.items():
        cells = []
        for n in steps:
            generated, _ = generate_batched(package.model, package.variant, reactions, solver="euler", steps=n,
                                            batch_size=batch_size, progress=False)
            summary = rmsd_summary(generated, reactions)
            cells.append(f"{summary['rmsd_median']:.3f} / {summary['rmsd_mean']:.3f}")
        rows.append(f"| {LABELS[variant]} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def cached_baselines(cache: Path | None, reactions: ReactionBatch, oracle: XtbOracle, num_images: int
                     ) -> tuple[dict[str, TsScores], str]:
    """Baseline scores on ``reactions``, read from ``cache`` when it holds the same reactions, else computed
    (and written to ``cache`` when given), so the slow IDPP baseline can run while the models train."""
    if cache is not None and cache.is_file():
        state = torch.load(cache, weights_only=True)
        if torch.equal(state["rxn_id"], reactions.rxn_id):
            return {name: TsScores(**fields) for name, fields in state["scores"].items()}, state["context"]
    scores, context = evaluate_baselines(reactions, oracle, num_images)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        state = {"rxn_id": reactions.rxn_id, "context": context,
                 "scores": {name: dataclasses.asdict(score) for name, score in scores.items()}}
        partial = cache.with_suffix(".tmp")
        torch.save(state, partial)
        partial.replace(cache)
    return scores, context




def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=1073, help="validation reactions (seeded subset if fewer)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation subset and xTB subset")
    parser.add_argument("--xtb-num", type=int, default=None, help="reactions with xTB barrier errors "
                        "(seeded subset; default all)")
    parser.add_argument("--num-images", type=int, default=9, help="IDPP images including both end points")
    parser.add_argument("--sweep-num", type=int, default=256, help="reactions in the ODE-steps sweep")
    parser.add_argument("--batch-size", type=int, default=256, help="reactions per generation call")
    parser.add_argument("--from-runs", action="store_true", help="package runs/ts_<variant>_cpu/last.pt as the "
                        "shipped checkpoints (after scoring) instead of loading the shipped ones")
    parser.add_argument("--runs", default="runs", help="folder holding ts_<variant>_cpu run folders")
    parser.add_argument("--data-root", default=None, help="RDB7 folder (default $GENFORGE_DATA/rdb7)")
    parser.add_argument("--baselines-cache", default=None, help="file caching the baselines' scores on these "
                        "reactions (read if present, else written)")
    parser.add_argument("--baselines-only", action="store_true", help="only compute (and cache) the baselines")
    parser.add_argument("--write-readme", action="store_true", help="also put the table in the domain README")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)

    reactions = validation_subset(args.num, args.seed, args.data_root)
    xtb_num = len(reactions) if args.xtb_num is None else min(args.xtb_num, len(reactions))
    chosen = torch.randperm(len(reactions), generator=torch.Generator().manual_seed(args.seed + 1))[:xtb_num]
    xtb_mask = torch.zeros(len(reactions), dtype=torch.bool)
    xtb_mask[chosen] = True
    oracle = XtbOracle()
    start = time.perf_counter()
    baseline_scores, context = cached_baselines(Path(args.baselines_cache) if args.baselines_cache else None,
                                                reactions, oracle, args.num_images)
    if args.baselines_only:
        return
    baseline_scores = {name: dataclasses.replace(score, barrier_error=torch.where(
        xtb_mask, score.barrier_error, math.nan)) for name, score in baseline_scores.items()}
    reference = torch.full((len(reactions),), math.nan, dtype=torch.float64)
    subset = reactions.select(torch.nonzero(xtb_mask).flatten())
    reference[xtb_mask] = oracle.evaluate(subset.species, subset.pos_ts, subset.batch, charge=subset.charge,
                                          multiplicity=subset.multiplicity).energy

    packages, sizes, cards, scores = {}, {}, {}, {}
    for variant in VARIANTS:
        if args.from_runs:
            packages[variant], sizes[variant], cards[variant] = packaged_from_run(
                variant, Path(args.runs) / f"ts_{variant}_cpu", DEFAULT_SOLVER, DEFAULT_STEPS)
        else:
            packages[variant] = load_packaged(default_checkpoint(variant))
        scores[f"{LABELS[variant]}, {packages[variant].solver} {packages[variant].steps} steps"] = score_model(
            packages[variant], reactions, oracle, reference, xtb_mask, args.batch_size)
    latency = {variant: single_latency(package, reactions, 50) for variant, package in packages.items()}
    sweep_reactions = reactions.select(torch.arange(min(args.sweep_num, len(reactions))))
    sweep = steps_sweep(packages, sweep_reactions, (1, 2, 4, 8), args.batch_size)
    elapsed = time.perf_counter() - start

    command = f"python -m benchmarks.ts_models --num {args.num} --seed {args.seed}" + (
        f" --xtb-num {args.xtb_num}" if args.xtb_num is not None else "") + (
        f" --from-runs --runs {args.runs}" if args.from_runs else "") + (
        f" --baselines-cache {args.baselines_cache}" if args.baselines_cache else "")
    xtb_note = ("all of them" if xtb_num == len(reactions) else
                f"a seeded subset of {xtb_num} of them (seed {args.seed + 1}) for every row, so \"no xTB\" counts "
                f"the other {len(reactions) - xtb_num}; RMSD and time over all {len(reactions)}")
    body = (
        f"`{command}`: {len(reactions)} RDB7 validation reactions (split seed 0), reference = DFT TS, energies "
        f"GFN2-xTB on {xtb_note}; {elapsed:.0f} s in all. Models: EGNN flow networks ("
        + ", ".join(f"{v} {sum(p.numel() for p in package.model.parameters()):,} parameters"
                    for v, package in packages.items())
        + "), trained with the CPU recipes in configs/transition_states/cpu/. Model time = batched generation "
        f"({args.batch_size} reactions per call) per TS; one reaction alone takes "
        + ", ".join(f"{latency[v] * 1e3:.0f} ms ({v})" for v in packages) + " (median of 50).\n\n"
        f"{table({**baseline_scores, **scores})}\n\n"
        f"RMSD median / mean (Å) against the number of Euler steps (first {len(sweep_reactions)} of these "
        f"reactions):\n\n{sweep}\n\n{context}\n")
    publish("Transition-state flow models vs baselines (RDB7 validation, GFN2-xTB)", body,
            README if args.write_readme else None, "ts_models")
    if args.from_runs:
        for variant, package in packages.items():
            label = f"{LABELS[variant]}, {package.solver} {package.steps} steps"
            metrics = {**scores[label].summary(), "seconds_single_reaction": latency[variant],
                       "validation_reactions": len(reactions), "xtb_reactions": xtb_num}
            save_packaged(default_checkpoint(variant), package.model, variant, sizes[variant],
                          solver=package.solver, steps=package.steps, elements=package.elements,
                          card={**cards[variant], "metrics": metrics, "benchmark_command": command})


if __name__ == "__main__":
    main()
