"""Unconditional trajectory generation: GeoTDM's marginal, classifier and prediction scores vs baselines.

``python -m benchmarks.traj_generation`` (``--dataset md`` for the ethanol MD) scores trajectories of 20 frames
against reference windows (CoM-free): for N-body one window at a random start (as in training; windows from frame 0
would be told apart by the simulator's equal initial speeds) of each of 600 held-out systems (seed 44, the
held-out seed; 600 instead of the recipe's 200 systems, so no system repeats); for MD the windows every 2 frames
of the held-out run, in time order (the classifier tests on the last 20 %):

- GeoTDM: ``runs/trajectories/geotdm_<dataset>_generate/model.pt`` (train it with
  ``configs/trajectories/cpu/geotdm_<dataset>_generate.yaml``), one trajectory per reference window with that
  window's particles, the recipe's sampler;
- the non-equivariant transformer diffusion, ``runs/trajectories/transformer_<dataset>_generate/model.pt``,
  when that run exists;
- ceiling: real windows of the training systems (one window each of 600 training systems / windows every 6
  frames of the training MD runs), as many;
- floors built from the same training windows' first frames: constant velocity (first two frames
  extrapolated) and a random walk (first frame plus Gaussian steps with the reference's per-frame step size).

Scores (domains/trajectories/generation_metrics.py): marginal (positions, velocities, and for MD bond lengths),
classifier (test cross-entropy, accuracy), prediction (train on the candidate set, test MSE on the reference).
For MD (``--xtb``) the frames of the first 30 trajectories of each set are also scored with GFN2-xTB: the
mean energy above the reference windows' mean, the drift E(frame s) - E(frame 0) and the frame-to-frame |dE|
(medians over trajectories, eV). The table is printed, appended to benchmarks/RESULTS.md and, with
``--write-readme``, put in domains/trajectories/README.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchmarks.results import append_result, replace_marked_section
from genforge.core.config import load_task_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "domains" / "trajectories" / "README.md"
NBODY_SYSTEMS = 600
XTB_TRAJECTORIES = 30
MODELS = {"geotdm": "GeoTDM (equivariant diffusion)", "transformer": "Transformer diffusion (non-equivariant)"}


def centred(traj: Tensor) -> Tensor:
    """Trajectories ``[S, T, N, 3]`` with the centre of mass of all T x N points at the origin."""
    return traj - traj.mean(dim=(1, 2), keepdim=True)


def one_window_each(pos: Tensor, frames: int, generator: torch.Generator) -> Tensor:
    """A window of ``frames`` frames at a random start in each trajectory of ``pos [S, T, N, 3]``."""
    start = torch.randint(0, pos.shape[1] - frames + 1, (pos.shape[0],), generator=generator)
    return pos[torch.arange(pos.shape[0])[:, None], start[:, None] + torch.arange(frames)]


def strided_windows(pos: Tensor, frames: int, stride: int) -> Tensor:
    """Windows every ``stride`` frames of each trajectory of ``pos [R, T, N, 3]``, run-major then in time."""
    starts = range(0, pos.shape[1] - frames + 1, stride)
    return torch.stack([pos[r, s:s + frames] for r in range(pos.shape[0]) for s in starts])


def candidates(dataset: str, frames: int,
               seed: int) -> tuple[Tensor, Tensor, Tensor, dict[str, tuple[Tensor, Tensor]]]:
    """``(reference, its node features, species, {label: (trajectories, their node features)})`` (module
    docstring); generated trajectories use the reference systems' particles."""
    from genforge.core.processes import CoMFreeGaussian
    from genforge.domains.trajectories.diffusion import sample_trajectories
    from genforge.domains.trajectories.metrics import constant_velocity
    from genforge.domains.trajectories.tasks import PROCESS, load_model, load_sets

    _, cfg, _ = load_task_config(ROOT / "configs" / "trajectories" / "cpu" / f"geotdm_{dataset}.yaml")
    generator = torch.Generator().manual_seed(seed)
    if dataset == "nbody":  # one window per system: 600 held-out systems, 600 of the training systems
        train_set, held_out = load_sets(replace(cfg, num_val=NBODY_SYSTEMS))
        reference, nodes = one_window_each(held_out.pos, frames, generator), held_out.node_features
        chosen = torch.randperm(len(train_set.pos), generator=generator)[:NBODY_SYSTEMS]
        other = one_window_each(train_set.pos[chosen], frames, generator)
        other_nodes = train_set.node_features[chosen]
    else:  # overlapping windows of one run, in time order (the classifier's test part is the run's end)
        train_set, held_out = load_sets(cfg)
        reference = strided_windows(held_out.pos, frames, 2)
        nodes = held_out.node_features[:1].expand(len(reference), -1, -1)
        other = strided_windows(train_set.pos, frames, 6)[:len(reference)]
        other_nodes = nodes
    step = (reference[:, 1:] - reference[:, :-1]).std()
    walk = torch.randn(other.shape, generator=generator, dtype=other.dtype) * step
    walk[:, 0] = 0.0
    out = {"real windows of other systems (ceiling)": (other, other_nodes),
           "constant velocity from real starts (floor)": (torch.cat(
               [other[:, :2], constant_velocity(other[:, :2], frames - 2)], dim=1), other_nodes),
           "random walk from real starts (floor)": (other[:, :1] + walk.cumsum(1), other_nodes)}
    for kind, label in MODELS.items():
        path = ROOT / "runs" / "trajectories" / f"{kind}_{dataset}_generate" / "model.pt"
        if path.is_file():
            loaded = load_model(path)
            start = time.perf_counter()
            out[label] = (sample_trajectories(loaded.model, CoMFreeGaussian(PROCESS), nodes, frames,
                                              steps=loaded.cfg.sample_steps, seed=seed), nodes)
            print(f"{label}: {len(reference)} trajectories sampled in {time.perf_counter() - start:.0f} s")
    return centred(reference), nodes, held_out.species, {k: (centred(v), f) for k, (v, f) in out.items()}


def xtb_summary(traj: Tensor, species: Tensor, reference_mean: float) -> dict[str, float]:
    """GFN2-xTB energies of every frame of the first ``XTB_TRAJECTORIES`` of ``traj [S, T, N, 3]``: medians over
    trajectories (module docstring)."""
    from benchmarks.traj_md_energy import xtb_energies

    traj = traj[:XTB_TRAJECTORIES]
    energy = xtb_energies(traj.reshape(-1, *traj.shape[2:]), species).reshape(traj.shape[:2])
    return {"excess": float(np.nanmedian(np.nanmean(energy, axis=1) - reference_mean)),
            "drift": float(np.nanmedian(np.nanmean(energy - energy[:, :1], axis=1))),
            "jump": float(np.nanmedian(np.nanmean(np.abs(np.diff(energy, axis=1)), axis=1))),
            "failed": int(np.isnan(energy).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", choices=("nbody", "md"), default="nbody")
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--score-steps", type=int, default=300, help="discriminator / predictor Adam steps")
    parser.add_argument("--xtb", action="store_true", help="MD: also score every frame with GFN2-xTB")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from genforge.domains.trajectories.generation_metrics import (
        ScoreTraining,
        bonds_of,
        classifier_score,
        marginal_scores,
        prediction_score,
    )

    start = time.perf_counter()
    reference, nodes, species, sets = candidates(args.dataset, args.frames, args.seed)
    bonds = bonds_of(reference[0, 0]) if args.dataset == "md" else None
    training = ScoreTraining(steps=args.score_steps, seed=args.seed)
    rows = {}
    for label, (traj, traj_nodes) in sets.items():
        marginal = marginal_scores(reference, traj, bonds=bonds)
        classifier = classifier_score(reference, traj, nodes, training, generated_node_features=traj_nodes)
        prediction = prediction_score(traj, reference, traj_nodes, args.frames // 2, training,
                                      test_node_features=nodes)
        rows[label] = {**marginal, **classifier, "prediction": prediction}
        print(label, rows[label])
    xtb: dict[str, dict[str, float]] = {}
    if args.xtb and args.dataset == "md":
        from benchmarks.traj_md_energy import xtb_energies

        frames = reference[:XTB_TRAJECTORIES].reshape(-1, *reference.shape[2:])
        reference_mean = float(np.nanmean(xtb_energies(frames, species)))
        xtb["reference (held-out xTB MD)"] = xtb_summary(reference, species, reference_mean)
        for label, (traj, _) in sets.items():
            xtb[label] = xtb_summary(traj, species, reference_mean)
    body = table(args, len(reference), rows, xtb, time.perf_counter() - start)
    print(body)
    append_result(f"Trajectory generation scores ({args.dataset})", body)
    if args.write_readme:
        replace_marked_section(README, f"traj_generation_{args.dataset}", body)


def table(args: argparse.Namespace, count: int, rows: dict[str, dict[str, float]],
          xtb: dict[str, dict[str, float]], seconds: float) -> str:
    """Markdown tables of the scores (and the xTB energies for MD)."""
    bond = args.dataset == "md"
    lines = [f"`python -m benchmarks.traj_generation --dataset {args.dataset} --score-steps {args.score_steps}"
             f"{' --xtb' if xtb else ''}`: {count} reference windows of {args.frames} frames of the held-out "
             f"{'systems' if args.dataset == 'nbody' else 'run'} (CoM-free), as "
             f"many trajectories per row; discriminator / predictor: {args.score_steps} Adam steps of batch 128; "
             f"{seconds:.0f} s in all. Marginal: mean |density difference| over 50 bins (lower is better); "
             "classifier: test cross-entropy (nats, higher is better, ln 2 = 0.693 is indistinguishable) and "
             "accuracy (0.5 is best); prediction: test MSE on the reference of a predictor trained on the row's "
             f"trajectories ({args.frames // 2} -> {args.frames - args.frames // 2} frames, lower is better).", "",
             "| trajectories | marginal (positions) | marginal (velocities) |" + (" marginal (bond lengths) |" if bond
                                                                               else "")
             + " classifier cross-entropy | classifier accuracy | prediction MSE |",
             "|---|---|---|" + ("---|" if bond else "") + "---|---|---|"]
    for label, m in rows.items():
        lines.append(f"| {label} | {m['position']:.4f} | {m['velocity']:.4f} |"
                     + (f" {m['bond_length']:.4f} |" if bond else "")
                     + f" {m['cross_entropy']:.3f} | {m['accuracy']:.3f} | {m['prediction']:.4f} |")
    if xtb:
        lines += ["", f"GFN2-xTB energies of every frame of the first {XTB_TRAJECTORIES} trajectories of each row "
                  "(eV per molecule, medians over trajectories):", "",
                  "| trajectories | mean energy above the reference mean | drift E(s) - E(0) | frame-to-frame abs. dE "
                  "| xTB failures |", "|---|---|---|---|---|"]
        for label, m in xtb.items():
            lines.append(f"| {label} | {m['excess']:+.3f} | {m['drift']:+.3f} | {m['jump']:.3f} | {m['failed']} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
