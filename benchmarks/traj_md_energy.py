"""Physical check of generated MD trajectories: GFN2-xTB energies of forecast frames vs the reference frames.

``python -m benchmarks.traj_md_energy`` takes the held-out windows of the MD cpu recipe
(``configs/trajectories/cpu/geotdm_md.yaml``: ethanol, 10 observed -> 20 forecast frames of 5 fs), forecasts
them with the trained runs of the cpu recipes ``configs/trajectories/cpu/{geotdm,egnn,transformer}_md.yaml``
(their ``train.out_dir``/model.pt; one sample each, the recipe's sampler) and the trivial forecasts (constant
velocity, last frame repeated), and scores every frame with GFN2-xTB (tblite, the potential the reference
trajectories were simulated on). Per method:

- energy excess: E(forecast frame s) - E(reference frame s), averaged over the 20 frames of a window (eV);
- drift: E(frame s) - E(last observed frame), averaged over the frames of a window (eV); the reference's own
  drift is its thermal fluctuation (Langevin at 500 K does not conserve energy, so this is not a conservation
  test but how far the generated states wander above the observed one);
- frame-to-frame |dE|: mean absolute energy change between consecutive forecast frames (eV; jittery samples
  jump);
- median over windows, and the number of frames where xTB failed.

The table is printed, appended to benchmarks/RESULTS.md and, with ``--write-readme``, put in
domains/trajectories/README.md.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from rich.progress import track
from torch import Tensor

from benchmarks.results import append_result, replace_marked_section
from genforge.core.config import load_task_config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "domains" / "trajectories" / "README.md"
RUNS = {"geotdm": "GeoTDM (equivariant diffusion, learnable prior)", "egnn": "EGNN regression (one-shot)",
        "transformer": "Transformer diffusion (non-equivariant, rotation augm.)"}


def xtb_energies(frames: Tensor, species: Tensor) -> np.ndarray:
    """GFN2-xTB energies (eV) of ``frames [F, N, 3]`` (Angstrom); NaN where the SCF fails."""
    from ase import Atoms

    from genforge.datasets.md_trajectories import xtb_calculator

    calculator = xtb_calculator()
    numbers = species.tolist()
    energies = np.full(len(frames), np.nan)
    for i, positions in enumerate(track(frames.double().numpy(), description="xTB single points")):
        atoms = Atoms(numbers=numbers, positions=positions)
        atoms.calc = calculator
        try:
            energies[i] = atoms.get_potential_energy()
        except Exception:  # tblite raises plain exceptions on SCF failure
            calculator = xtb_calculator()
    return energies


def forecasts(x_cond: Tensor, nodes: Tensor, future: int, seed: int) -> dict[str, Tensor]:
    """``{label: [W, Tf, N, 3]}``: trivial forecasts and one sample of each trained run that exists."""
    from genforge.domains.trajectories.metrics import constant_velocity
    from genforge.domains.trajectories.model import TrajCondition
    from genforge.domains.trajectories.tasks import forecast, load_model

    out = {"constant velocity": constant_velocity(x_cond, future),
           "last frame repeated": x_cond[:, -1:].expand(-1, future, -1, -1)}
    for kind, label in RUNS.items():
        _, recipe, _ = load_task_config(ROOT / "configs" / "trajectories" / "cpu" / f"{kind}_md.yaml")
        path = ROOT / recipe.train.out_dir / "model.pt"
        if path.is_file():
            loaded = load_model(path)
            out[label] = forecast(loaded.model, kind, TrajCondition(nodes, x_cond),
                                  replace(loaded.cfg, num_samples=1), seed)[:, 0]
    return out


def summarise(energy: np.ndarray, reference: np.ndarray, observed: np.ndarray) -> dict[str, float]:
    """Medians over windows of the per-window means (module docstring); ``energy``, ``reference [W, Tf]``."""
    return {"excess": float(np.nanmedian(np.nanmean(energy - reference, axis=1))),
            "drift": float(np.nanmedian(np.nanmean(energy - observed[:, None], axis=1))),
            "jump": float(np.nanmedian(np.nanmean(np.abs(np.diff(energy, axis=1)), axis=1))),
            "failed": int(np.isnan(energy).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    from genforge.domains.trajectories.data import eval_windows
    from genforge.domains.trajectories.tasks import load_sets

    _, cfg, _ = load_task_config(ROOT / "configs" / "trajectories" / "cpu" / "geotdm_md.yaml")
    _, held_out = load_sets(cfg)
    windows, nodes = eval_windows(held_out, cfg.cond_frames + cfg.future_frames, cfg.eval_stride, cfg.eval_systems)
    x_cond, target = windows[:, :cfg.cond_frames], windows[:, cfg.cond_frames:]
    W, Tf, N, _ = target.shape
    start = time.perf_counter()
    shape = (W, Tf)
    reference = xtb_energies(target.reshape(-1, N, 3), held_out.species).reshape(shape)
    observed = xtb_energies(x_cond[:, -1], held_out.species)
    rows = {"reference (held-out xTB MD)": summarise(reference, reference, observed)}
    for label, frames in forecasts(x_cond, nodes, cfg.future_frames, args.seed).items():
        rows[label] = summarise(xtb_energies(frames.reshape(-1, N, 3), held_out.species).reshape(shape),
                                reference, observed)
    lines = [f"`python -m benchmarks.traj_md_energy --seed {args.seed}`: {W} held-out {cfg.molecule} windows "
             f"({cfg.cond_frames} observed -> {Tf} forecast frames of 5 fs), one sample per model, every frame "
             f"scored with GFN2-xTB (tblite); medians over windows of per-window means, eV per molecule; "
             f"{time.perf_counter() - start:.0f} s in all.", "",
             "| forecast | energy excess vs reference frame | drift vs last observed frame | "
             "frame-to-frame abs. dE | xTB failures |", "|---|---|---|---|---|"]
    for label, m in rows.items():
        lines.append(f"| {label} | {m['excess']:+.3f} | {m['drift']:+.3f} | {m['jump']:.3f} | {m['failed']} |")
    body = "\n".join(lines)
    print(body)
    append_result("Trajectories: xTB energies of MD forecasts", body)
    if args.write_readme:
        replace_marked_section(README, "traj_md_energy", body)


if __name__ == "__main__":
    main()
