"""Learned TS guess + Sella/GFN2-xTB saddle search as one pipeline, with resumable per-reaction caches.

``python -m benchmarks.ts_pipeline refine --split val --start reactot`` refines one kind of start on a
seeded subset of a split and stores every reaction's outcome in ``runs/ts_pipeline/<split>_<start>.pt``
(keyed by rxn_id, saved every few reactions, written to a temporary file and renamed), so an interrupted
run resumes where it stopped and later analyses read the cache instead of recomputing. Starts: the shipped
models' guesses (``reactot``, ``tsgen``, ``tsgen@<seed>`` for further noise seeds; with the suffix ``-relaxed`` the
guess is first relaxed with the bonds that change between R and P held fixed) and, as a diagnostic
only, ``reference`` (the DFT TS itself: how far the nearest GFN2-xTB saddle lies from the DFT geometry).

``python -m benchmarks.ts_pipeline pipeline --split val --starts reactot reactot-relaxed --min-overlap 0.3 --score``
runs the reference-free pipeline of :mod:`genforge.domains.transition_states.saddle_choice` (refine the
React-OT-style guess; where that gives no first-order saddle whose imaginary mode matches the reaction,
refine it again after a relaxation with its changing bonds fixed, and keep the best saddle by that rule;
other ``--starts`` lists compare other retries) on top of the same caches, scores
it against the DFT TSs next to the plain pipeline (refined saddle if first-order, else the guess) and
publishes the table (``--write-readme``: between the README's ``ts_pipeline`` markers). ``--range`` and
``--part`` split the refinements over parallel workers before a final ``--score`` run.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from rich.progress import track
from torch import Tensor

from benchmarks.results import publish
from benchmarks.ts_baselines import table
from genforge.datasets.rdb7 import ReactionBatch, load_rdb7, split_reactions
from genforge.domains.transition_states.checkpoints import default_checkpoint, load_packaged
from genforge.domains.transition_states.metrics import TsScores, score_transition_states
from genforge.domains.transition_states.oracle import XtbOracle
from genforge.domains.transition_states.refine import Refinement, reactive_pairs, refine_saddle
from genforge.domains.transition_states.saddle_choice import SaddleRule, SaddleSearch, search_saddle
from genforge.domains.transition_states.tasks import generate_batched

CACHE_DIR = Path(__file__).resolve().parents[1] / "runs" / "ts_pipeline"
README = Path(__file__).resolve().parents[1] / "domains" / "transition_states" / "README.md"
NAMES = {"reactot": "React-OT-style", "tsgen": "TS-GEN-style", "reactot-relaxed": "relaxed React-OT-style",
         "tsgen-relaxed": "relaxed TS-GEN-style"}
RELAXED = "-relaxed"


def reaction_subset(split: str, num: int, seed: int, data_root: str | None = None) -> ReactionBatch:
    """``num`` reactions of the ``split`` ("train" or "val", split seed 0), drawn by ``seed``, sorted by index.
    With ``split="val"`` this is :func:`benchmarks.ts_baselines.validation_subset`."""
    data = load_rdb7(data_root)
    indices = getattr(split_reactions(data.reactions.rxn_id), split)
    chosen = torch.randperm(indices.shape[0], generator=torch.Generator().manual_seed(seed))[:num]
    return data.reactions.select(torch.sort(indices[chosen]).values)


def start_positions(reactions: ReactionBatch, start: str) -> tuple[Tensor, float]:
    """Starting geometries ``[N, 3]`` (Angstrom) of kind ``start``: ``reactot``, ``tsgen``, ``tsgen@<seed>``
    (the shipped models, generated over the whole subset in its order) or ``reference`` (the DFT TS); and the
    seconds per reaction it took."""
    if start == "reference":
        return reactions.pos_ts.double(), 0.0
    variant, _, seed = start.removesuffix(RELAXED).partition("@")
    package = load_packaged(default_checkpoint(variant))  # type: ignore[arg-type]
    positions, seconds = generate_batched(package.model, variant, reactions,  # type: ignore[arg-type]
                                          solver=package.solver, steps=package.steps, batch_size=256,
                                          seed=int(seed or 0), progress=False)
    return positions, seconds / len(reactions)


def _fixed_pairs(start: str, reaction: ReactionBatch) -> Tensor | None:
    """The reactive pairs to hold during a pre-relaxation for ``-relaxed`` starts, else None."""
    if RELAXED not in start:
        return None
    return reactive_pairs(reaction.species, reaction.pos_reactant, reaction.pos_product)


def _record(result: Refinement) -> dict:
    return {"positions": result.positions.double(), "energy": result.energy, "steps": result.steps,
            "converged": result.converged, "imaginary": result.imaginary, "seconds": result.seconds,
            "imaginary_frequencies": list(result.imaginary_frequencies), "mode": result.mode}


def _refinement(record: dict) -> Refinement:
    return Refinement(record["positions"], record["energy"], record["steps"], record["converged"],
                      record["imaginary"], record["seconds"], tuple(record["imaginary_frequencies"]),
                      record["mode"])


def cache_path(split: str, start: str, fmax: float, max_steps: int) -> Path:
    return CACHE_DIR / f"{split}_{start.replace('@', '-s')}_f{fmax:g}_n{max_steps}.pt"


def load_cache(path: Path) -> dict[int, Refinement]:
    """Cached refinements by rxn_id from ``path`` and its parts ``<stem>.part*.pt`` written by parallel workers
    (empty when none exists)."""
    results = {}
    for file in [path, *sorted(path.parent.glob(f"{path.stem}.part*.pt"))]:
        if file.exists():
            results.update({int(key): _refinement(value) for key, value in torch.load(file, weights_only=True).items()})
    return results


def _save_cache(path: Path, results: dict[int, Refinement]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({key: _record(value) for key, value in results.items()}, temporary)
    temporary.replace(path)


def refine_cached(reactions: ReactionBatch, positions: Tensor, path: Path, *, fmax: float, max_steps: int,
                  only: list[int] | None = None, description: str = "refining", part: str = "",
                  save_every: int = 10) -> dict[int, Refinement]:
    """Refinements of the reactions (indices ``only``, default all) from ``positions [N, 3]``, by rxn_id; those
    already in the cache at ``path`` are read, the rest computed and added to it (to ``<stem>.part<part>.pt``
    when ``part`` is given, so that parallel workers on disjoint reactions do not overwrite each other)."""
    results = load_cache(path)
    target = path.with_name(f"{path.stem}.part{part}.pt") if part else path
    oracle = XtbOracle()
    counts = torch.bincount(reactions.batch, minlength=len(reactions)).tolist()
    per_reaction = positions.split(counts)
    todo = [i for i in (range(len(reactions)) if only is None else only)
            if int(reactions.rxn_id[i]) not in results]
    for done, index in enumerate(track(todo, description=description), start=1):
        reaction = reactions[index]
        results[int(reaction.rxn_id)] = refine_saddle(
            reaction.species, per_reaction[index], oracle, charge=int(reaction.charge),
            multiplicity=int(reaction.multiplicity), fmax=fmax, max_steps=max_steps,
            fixed_pairs=_fixed_pairs(path.stem, reaction))
        if done % save_every == 0 or done == len(todo):
            _save_cache(target, results)
    return results


class CachedRefiner:
    """Refinements looked up in, or computed and added to, the per-start caches of a split; new results go to
    the cache part ``part`` (saved every ``save_every`` new results and by :meth:`flush`)."""

    def __init__(self, split: str, starts: Sequence[str], *, fmax: float, max_steps: int, part: str = "",
                 save_every: int = 10) -> None:
        self.paths = {start: cache_path(split, start, fmax, max_steps) for start in starts}
        self.caches = {start: load_cache(path) for start, path in self.paths.items()}
        self.fmax, self.max_steps, self.part, self.save_every = fmax, max_steps, part, save_every
        self.oracle = XtbOracle()
        self.new: dict[str, int] = dict.fromkeys(starts, 0)

    def __call__(self, start: str, reaction: ReactionBatch, guess: Tensor) -> Refinement:
        key = int(reaction.rxn_id)
        if key not in self.caches[start]:
            self.caches[start][key] = refine_saddle(
                reaction.species, guess, self.oracle, charge=int(reaction.charge),
                multiplicity=int(reaction.multiplicity), fmax=self.fmax, max_steps=self.max_steps,
                fixed_pairs=_fixed_pairs(start, reaction))
            self.new[start] += 1
            if self.new[start] % self.save_every == 0:
                self.flush(start)
        return self.caches[start][key]

    def flush(self, start: str | None = None) -> None:
        for name in [start] if start else list(self.paths):
            if self.new[name]:
                path = self.paths[name]
                _save_cache(path.with_name(f"{path.stem}.part{self.part}.pt") if self.part else path,
                            self.caches[name])


def run_pipeline(reactions: ReactionBatch, guesses: dict[str, list[Tensor]], starts: Sequence[str],
                 rule: SaddleRule, refiner: CachedRefiner, only: Sequence[int]) -> dict[int, SaddleSearch]:
    """:func:`search_saddle` over the guesses of ``starts`` (in order) for the reactions ``only``."""
    searches = {}
    for index in track(list(only), description=f"pipeline {' -> '.join(starts)}"):
        reaction = reactions[index]
        searches[index] = search_saddle(
            [guesses[start][index] for start in starts],
            lambda position, guess, reaction=reaction: refiner(starts[position], reaction, guess),
            reaction.pos_reactant, reaction.pos_product, rule)
    refiner.flush()
    return searches


def score_searches(reactions: ReactionBatch, searches: dict[int, SaddleSearch], guess_seconds: float,
                   oracle: XtbOracle, reference_energy: Tensor) -> TsScores:
    """Scores of the kept TSs against the DFT TSs; time = guesses + every refinement run."""
    order = range(len(reactions))
    positions = torch.cat([searches[i].positions.double() for i in order])
    charges = {"charge": reactions.charge, "multiplicity": reactions.multiplicity}
    seconds = torch.tensor([guess_seconds + sum(r.seconds for r in searches[i].tried) for i in order],
                           dtype=torch.float64)
    return score_transition_states(
        reactions.species, positions, reactions.pos_ts, reactions.batch, seconds=seconds,
        energy_generated=oracle.evaluate(reactions.species, positions, reactions.batch, **charges).energy,
        energy_reference=reference_energy)


def _diagnose(args: argparse.Namespace) -> None:
    """Where the plain pipeline (refined React-OT-style guess if first-order, else the guess) stays above
    ``--threshold``: no first-order saddle, a saddle whose mode does not match the reaction, or a matching one;
    with cached ``reference`` refinements also the floor (the saddle Sella finds from the DFT TS itself)."""
    from genforge.core.geometry.kabsch import aligned_rmsd

    reactions = reaction_subset(args.split, args.num, args.seed, args.data_root)
    counts = torch.bincount(reactions.batch).tolist()
    guesses = start_positions(reactions, "reactot")[0].split(counts)
    plain = load_cache(cache_path(args.split, "reactot", args.fmax, args.max_steps))
    floor = load_cache(cache_path(args.split, "reference", args.fmax, args.max_steps))
    rule, tally = SaddleRule(args.min_overlap), dict.fromkeys(("below", "no saddle", "mismatch", "match"), 0)
    floor_rmsd, floor_saddles, both, floor_explains = [], 0, 0, 0
    for index in range(len(reactions)):
        reaction = reactions[index]
        key, reference = int(reaction.rxn_id), reaction.pos_ts.double()
        if key not in plain:
            continue
        result = plain[key]
        kept = result.positions.double() if result.first_order_saddle else guesses[index]
        above = float(aligned_rmsd(kept, reference)) > args.threshold
        kind = ("below" if not above else "no saddle" if not result.first_order_saddle else
                "mismatch" if rule.overlap(result, reaction.pos_reactant, reaction.pos_product) < rule.min_overlap
                else "match")
        tally[kind] += 1
        if key in floor:
            both += 1
            floor_saddles += floor[key].first_order_saddle
            if floor[key].first_order_saddle:
                floor_rmsd.append(float(aligned_rmsd(floor[key].positions.double(), reference)))
                floor_explains += above and floor_rmsd[-1] > args.threshold
    total = sum(tally.values())
    lines = [f"{args.split} reactions (subset seed {args.seed}) with a cached plain refinement: {total}; RMSD to the "
             f"DFT TS above {args.threshold} Å: {total - tally['below']} ({tally['no saddle']} without a first-order "
             f"saddle, kept the guess; {tally['mismatch']} on a first-order saddle whose mode overlap is below "
             f"{args.min_overlap}; {tally['match']} on one whose mode matches the reaction)."]
    if floor_rmsd:
        values = torch.tensor(floor_rmsd)
        lines.append(f"Floor (Sella started from the DFT TS, a diagnostic that uses the reference): {both} reactions, "
                     f"{floor_saddles} first-order saddles, RMSD to the DFT TS median {values.median():.3f} Å, "
                     f"quartiles {values.quantile(0.25):.3f} / {values.quantile(0.75):.3f} Å, "
                     f"{(values <= args.threshold).double().mean():.0%} within {args.threshold} Å; "
                     f"{floor_explains} of the plain pipeline's reactions above {args.threshold} Å have a floor "
                     "above it too.")
    print("\n".join(lines))


def _pipeline(args: argparse.Namespace) -> None:
    reactions = reaction_subset(args.split, args.num, args.seed, args.data_root)
    counts = torch.bincount(reactions.batch).tolist()
    generated = {start: start_positions(reactions, start) for start in args.starts}
    guesses = {start: list(positions.split(counts)) for start, (positions, _) in generated.items()}
    first, _, last = (args.range or ":").partition(":")
    only = list(range(len(reactions)))[slice(int(first) if first else None, int(last) if last else None)]
    refiner = CachedRefiner(args.split, args.starts, fmax=args.fmax, max_steps=args.max_steps, part=args.part)
    if args.cached_only:
        only = [index for index in only if int(reactions.rxn_id[index]) in refiner.caches[args.starts[0]]]
    begin = time.perf_counter()
    rule = SaddleRule(args.min_overlap)
    searches = run_pipeline(reactions, guesses, args.starts, rule, refiner, only)
    if not args.score:
        return
    plain = run_pipeline(reactions, guesses, args.starts[:1], SaddleRule(0.0), refiner, only)
    oracle = XtbOracle()
    charges = {"charge": reactions.charge, "multiplicity": reactions.multiplicity}
    reference = oracle.evaluate(reactions.species, reactions.pos_ts, reactions.batch, **charges).energy
    first_name = NAMES.get(args.starts[0], args.starts[0])
    retry = " then ".join(NAMES.get(start, start) for start in args.starts[1:])
    scores = {
        f"{first_name} guess + Sella (refined saddle if first-order, else the guess)": score_searches(
            reactions, plain, generated[args.starts[0]][1], oracle, reference),
        f"{first_name} guess + Sella, retry from the {retry} guess (reaction-mode overlap ≥ {args.min_overlap:g})":
            score_searches(reactions, searches, sum(seconds for _, seconds in generated.values()), oracle,
                           reference),
    }
    tried = [len(search.tried) for search in searches.values()]
    saddles = sum(search.chosen is not None for search in searches.values())
    from_retry = sum(search.guess_index > 0 for search in searches.values())
    plain_saddles = sum(search.chosen is not None for search in plain.values())
    command = (f"python -m benchmarks.ts_pipeline pipeline --split {args.split} --num {args.num} --seed {args.seed} "
               f"--starts {' '.join(args.starts)} --min-overlap {args.min_overlap:g} --score")
    body = (f"`{command}`: {len(reactions)} RDB7 {args.split} reactions; Sella (internal coordinates, order 1) on "
            f"GFN2-xTB, forces < {args.fmax} eV/Å, at most {args.max_steps} steps, first-order = exactly one "
            f"imaginary frequency (|ν| > 50 cm⁻¹); overlap = |cos| between the distance changes along the "
            f"saddle's imaginary mode and from reactant to product (no reference used). Plain pipeline: "
            f"{plain_saddles} first-order saddles. With retries: {saddles} reactions end on a first-order saddle, "
            f"{from_retry} of them from a retry guess; {sum(tried) / len(tried):.2f} refinements per reaction; "
            f"{time.perf_counter() - begin:.0f} s in this run (refinements cached in runs/ts_pipeline/). Time per "
            f"TS = generation + every refinement run, on 2 shared cores (upper bounds).\n\n"
            + table(scores) + "\n")
    if args.split != "val":  # rule choices on training reactions are printed, not published
        print(body)
        return
    publish("Transition states: learned guess + Sella/GFN2-xTB saddle search with reference-free retries", body,
            README if args.write_readme else None, "ts_pipeline")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--split", choices=("train", "val"), default="val")
    shared.add_argument("--num", type=int, default=1073, help="reactions (seeded subset of the split)")
    shared.add_argument("--seed", type=int, default=2, help="seed of the subset")
    shared.add_argument("--fmax", type=float, default=0.01, help="force threshold (eV/Å)")
    shared.add_argument("--max-steps", type=int, default=300, help="Sella step limit")
    shared.add_argument("--data-root", default=None, help="RDB7 folder (default $GENFORGE_DATA/rdb7)")
    refine = commands.add_parser("refine", parents=[shared],
                                 help="refine one or more kinds of start, cached per reaction")
    refine.add_argument("--start", nargs="+", default=["reactot"], help="reactot, tsgen, tsgen@<seed>, reference")
    refine.add_argument("--range", default=None, help="only reactions first:last (indices in the subset)")
    refine.add_argument("--only", default=None, help="only these comma-separated indices in the subset")
    refine.add_argument("--part", default="", help="write to the cache part <part> (parallel workers)")
    pipeline = commands.add_parser("pipeline", parents=[shared],
                                   help="the reference-free retry pipeline, cached; --score to score")
    pipeline.add_argument("--starts", nargs="+", default=["reactot", "reactot-relaxed"],
                          help="guesses, tried in order (default: the pipeline of `genforge ts generate --refine`)")
    pipeline.add_argument("--min-overlap", type=float, default=SaddleRule().min_overlap,
                          help="reaction-mode overlap a saddle needs to be kept without trying the next guess")
    pipeline.add_argument("--range", default=None, help="only reactions first:last (indices in the subset)")
    pipeline.add_argument("--part", default="", help="write new refinements to the cache part <part>")
    pipeline.add_argument("--cached-only", action="store_true",
                          help="only reactions whose first guess is already refined (a worker beside a first run)")
    pipeline.add_argument("--score", action="store_true",
                          help="score all reactions (and publish the table for --split val)")
    pipeline.add_argument("--write-readme", action="store_true", help="also put the table in the domain README")
    diagnose = commands.add_parser("diagnose", parents=[shared],
                                   help="classify the plain pipeline's misses (cached results only)")
    diagnose.add_argument("--threshold", type=float, default=0.15, help="RMSD counted as a miss (Å)")
    diagnose.add_argument("--min-overlap", type=float, default=SaddleRule().min_overlap)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "diagnose":
        _diagnose(args)
        return
    if args.command == "pipeline":
        _pipeline(args)
        return

    reactions = reaction_subset(args.split, args.num, args.seed, args.data_root)
    first, _, last = (args.range or ":").partition(":")
    only = list(range(len(reactions)))[slice(int(first) if first else None, int(last) if last else None)]
    if args.only:
        only = [int(index) for index in args.only.split(",")]
    for start in args.start:
        refine_cached(reactions, start_positions(reactions, start)[0],
                      cache_path(args.split, start, args.fmax, args.max_steps), fmax=args.fmax,
                      max_steps=args.max_steps, only=only, part=args.part,
                      description=f"{args.split}: refining from {start}")


if __name__ == "__main__":
    main()
