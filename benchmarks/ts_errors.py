"""Where the TS models' RMSD comes from: breakdowns of the validation errors by reaction and by atom.

``python -m benchmarks.ts_errors --write-readme`` generates TSs for the RDB7 validation reactions (split seed 0)
with the shipped checkpoints (or ``--checkpoint-dir``) and the linear midpoint, and tabulates the median
Kabsch RMSD to the DFT TS by molecule size, by where the TS lies between R and P (early / late barriers),
by how far R and P are apart, and the per-atom errors of four atom classes: hydrogen / heavy x reactive
(a bond to it is formed or broken, :func:`~genforge.domains.transition_states.metrics.reactive_atoms`) /
spectator. Geometry only, no xTB: seconds. Appends to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from torch import Tensor

from benchmarks.results import publish
from benchmarks.ts_baselines import validation_subset
from genforge.core.geometry.com import graph_mean
from genforge.core.geometry.kabsch import aligned_rmsd
from genforge.datasets.rdb7 import ReactionBatch
from genforge.domains.transition_states.baselines import linear_midpoint
from genforge.domains.transition_states.checkpoints import default_checkpoint, load_packaged
from genforge.domains.transition_states.flow import VARIANTS
from genforge.domains.transition_states.metrics import aligned_atom_errors, reactive_atoms
from genforge.domains.transition_states.tasks import generate_batched

README = Path(__file__).resolve().parents[1] / "domains" / "transition_states" / "README.md"
SIZE_BINS = ((4, 10), (10, 13), (13, 16), (16, 19), (19, 24))
POSITION_BINS = ((0.0, 0.3), (0.3, 0.45), (0.45, 0.55), (0.55, 0.7), (0.7, 1.0))
SEPARATION_BINS = ((0.0, 0.8), (0.8, 1.2), (1.2, 10.0))


def binned_table(title: str, key: Tensor, bins: tuple[tuple[float, float], ...], rmsd: dict[str, Tensor]) -> str:
    """Rows ``[lo, hi)`` of ``key`` (the last bin closed): reactions and each method's median RMSD."""
    lines = [f"| {title} | reactions | " + " | ".join(rmsd) + " |", "|---" * (len(rmsd) + 2) + "|"]
    for index, (low, high) in enumerate(bins):
        inside = (key >= low) & ((key <= high) if index == len(bins) - 1 else (key < high))
        cells = " | ".join(f"{values[inside].median():.3f}" if inside.any() else "-" for values in rmsd.values())
        lines.append(f"| [{low:g}, {high:g}{']' if index == len(bins) - 1 else ')'} | {int(inside.sum())} | {cells} |")
    return "\n".join(lines)


def atom_class_table(errors: dict[str, Tensor], classes: dict[str, Tensor], batch: Tensor, count: int) -> str:
    """Per atom class: share of atoms; per method RMS error (Angstrom), share of the summed squared error and
    the median RMSD if that class were exact (same superposition)."""
    header = "| atoms | share of atoms | " + " | ".join(
        f"{name}: RMS error / share of sq. error / median RMSD if exact" for name in errors) + " |"
    lines = [header, "|---" * (len(errors) + 2) + "|"]
    for label, mask in classes.items():
        cells = []
        for error in errors.values():
            without = graph_mean(torch.where(mask, 0.0, error).unsqueeze(-1), batch, count).squeeze(-1).sqrt()
            cells.append(f"{error[mask].mean().sqrt():.3f} / {error[mask].sum() / error.sum():.2f} / "
                         f"{without.median():.3f}")
        lines.append(f"| {label} | {mask.double().mean():.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def breakdown(reactions: ReactionBatch, generated: dict[str, Tensor]) -> str:
    """The markdown tables for the methods' generated TSs ``{name: [N, 3]}``."""
    batch, count, reference = reactions.batch, len(reactions), reactions.pos_ts.double()
    reactant, product = reactions.pos_reactant.double(), reactions.pos_product.double()
    rmsd = {name: aligned_rmsd(positions.double(), reference, batch=batch) for name, positions in generated.items()}
    size = torch.bincount(batch, minlength=count).double()
    to_reactant = aligned_rmsd(reactant, reference, batch=batch)
    position = to_reactant / (to_reactant + aligned_rmsd(product, reference, batch=batch))
    separation = aligned_rmsd(reactant, product, batch=batch)
    hydrogen = reactions.species == 1
    reactive = reactive_atoms(reactions.species, reactant, product, batch)
    classes = {"H, spectator": hydrogen & ~reactive, "H, reactive": hydrogen & reactive,
               "heavy, spectator": ~hydrogen & ~reactive, "heavy, reactive": ~hydrogen & reactive}
    errors = {name: aligned_atom_errors(positions.double(), reference, batch) for name, positions in generated.items()}
    return "\n\n".join([
        "Median RMSD (Å) by atoms per reaction:\n\n" + binned_table("atoms", size, SIZE_BINS, rmsd),
        "By where the TS lies between R and P, RMSD(R, TS) / (RMSD(R, TS) + RMSD(P, TS)) (< 0.5: early, "
        "reactant-like TS):\n\n" + binned_table("TS position", position, POSITION_BINS, rmsd),
        "By the distance between R and aligned P, RMSD(R, P) in Å:\n\n"
        + binned_table("RMSD(R, P)", separation, SEPARATION_BINS, rmsd),
        "Per atom (after each reaction's whole-molecule superposition; reactive = a bond to it differs between R "
        "and P, d < 1.25 (r_i + r_j) with covalent radii):\n\n" + atom_class_table(errors, classes, batch, count),
    ])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num", type=int, default=1073, help="validation reactions (seeded subset if fewer)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the validation subset and of the tsgen noise")
    parser.add_argument("--checkpoint-dir", default=None, help="folder with <variant>_rdb7.pt (default: shipped)")
    parser.add_argument("--data-root", default=None, help="RDB7 folder (default $GENFORGE_DATA/rdb7)")
    parser.add_argument("--write-readme", action="store_true", help="also put the tables in the domain README")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    reactions = validation_subset(args.num, args.seed, args.data_root)
    generated = {"midpoint": linear_midpoint(reactions.pos_reactant, reactions.pos_product, reactions.batch)}
    for variant in VARIANTS:
        path = (Path(args.checkpoint_dir) / f"{variant}_rdb7.pt" if args.checkpoint_dir
                else default_checkpoint(variant))
        package = load_packaged(path)
        generated[variant], _ = generate_batched(package.model, variant, reactions, solver=package.solver,
                                                 steps=package.steps, batch_size=256, seed=args.seed)
    command = f"python -m benchmarks.ts_errors --num {args.num} --seed {args.seed}" + (
        f" --checkpoint-dir {args.checkpoint_dir}" if args.checkpoint_dir else "")
    body = (f"`{command}`: {len(reactions)} RDB7 validation reactions (split seed 0), Kabsch RMSD to the DFT TS; "
            f"models = the shipped checkpoints with their own samplers; {time.perf_counter() - start:.0f} s.\n\n"
            f"{breakdown(reactions, generated)}\n")
    publish("Transition-state error breakdown (RDB7 validation)", body,
            README if args.write_readme else None, "ts_errors")


if __name__ == "__main__":
    main()
