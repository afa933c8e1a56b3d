"""Smoke control with a trained model, shared by ``genforge pde smoke-control`` and ``benchmarks.pde_smoke``:
propose band forces by guided sampling, ALWAYS re-simulate them with the smoke solver, score them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from genforge.core.atomic import write_json
from genforge.core.errors import DataError
from genforge.datasets.smoke import SmokeConfig, sample_initial, simulate
from genforge.domains.pde.io import _open, save_npz
from genforge.domains.pde.model import PDEModel, load_model
from genforge.domains.pde.plots import density_frames
from genforge.domains.pde.smoke_control import smoke_objective
from genforge.domains.pde.smoke_sampling import control_smoke

DEFAULT_SMOKE_SCALE = {"wdno": 1.0, "jacobian": 1.0}
"""Guidance strength when a smoke model file stores no tuned ``guidance_scale``."""


def load_initial(path: str | Path, n: int) -> Tensor:
    """Initial densities ``[N, n, n]`` (float32) from ``rho0`` (a single ``[n, n]`` counts as N = 1) or, failing
    that, frame 0 of a trajectory file's ``density`` ``[N, T, n, n]`` (from ``genforge pde simulate smoke``)."""
    path = Path(path)
    data = _open(path)
    if "rho0" in data:
        key, array = "rho0", data["rho0"]
        array = array[None] if array.ndim == 2 else array
    elif "density" in data and data["density"].ndim == 4:
        key, array = "density", data["density"][:, 0]
    else:
        raise DataError(f"missing key 'rho0' [N, {n}, {n}] (or a trajectory 'density' [N, T, {n}, {n}]); found "
                        f"{sorted(data)}", source=path, field="rho0")
    if array.ndim != 3 or array.shape[1:] != (n, n):
        raise DataError(f"expected initial densities [N, {n}, {n}] (the model's box), got {list(array.shape)}",
                        source=path, field=key)
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise DataError("expected finite numbers", source=path, field=key)
    return torch.from_numpy(array.astype(np.float32))


def held_out_initial(num: int, cfg: SmokeConfig, seed: int = 1) -> Tensor:
    """The benchmark's held-out initial blobs ``[num, n, n]`` (seed 1, as ``benchmarks.pde_smoke``)."""
    return sample_initial(num, torch.Generator().manual_seed(seed), cfg).float()


def score_controls(rho0: Tensor, control: Tensor, cfg: SmokeConfig, energy_weight: float) -> dict[str, Tensor]:
    """Re-simulate ``control`` ``[B, F, 2, n, n]`` from rho0 with the solver: ``{"fraction", "other", "J",
    "density"}`` (fractions of all smoke through the target / the other exits, J, density ``[B, F+1, n, n]``)."""
    with torch.no_grad():
        out = simulate(rho0.float(), control.float(), cfg)
    other = out["outflow"].sum(1).sum(-1) / out["injected"] - out["target_fraction"]
    return {"fraction": out["target_fraction"], "other": other, "density": out["density"],
            "J": smoke_objective(out, control.float(), cfg, energy_weight)}


def propose(model: PDEModel, rho0: Tensor, *, scale: float | None, energy_weight: float, steps: int, seed: int,
            guidance: str | None, samples: int) -> tuple[Tensor, Tensor, float, dict[str, float | str]]:
    """Guided controls of ``model`` for rho0: (control, the model's own fraction, wall seconds, settings used)."""
    kind = guidance or str(model.record.get("guidance", "wdno"))
    if scale is None:
        tuned = model.record.get("guidance_scale")
        scale = float(tuned) if tuned is not None and model.record.get("guidance", "wdno") == kind \
            else DEFAULT_SMOKE_SCALE[kind]
    start = time.perf_counter()
    control, fraction = control_smoke(model, rho0, scale=scale, energy_weight=energy_weight, steps=steps, seed=seed,
                                      guidance=kind, samples=samples)
    return control, fraction, time.perf_counter() - start, {"guidance": kind, "scale": scale}


def run_smoke_control(ckpt: Path, out: Path, *, rho0_path: Path | None, num: int, scale: float | None,
                      energy_weight: float, steps: int, seed: int, guidance: str | None, samples: int,
                      plot: bool = True) -> dict[str, float]:
    """Controls for every initial density (from ``rho0_path`` or ``num`` held-out blobs), re-simulated and scored
    next to no control; writes smoke_control.npz / .json / .png into ``out``."""
    model = load_model(ckpt)
    cfg: SmokeConfig | None = getattr(model.codec, "smoke", None)
    if cfg is None:
        raise DataError("not a smoke model (use `genforge pde control` for Burgers models)", source=ckpt)
    rho0 = load_initial(rho0_path, cfg.n) if rho0_path is not None else held_out_initial(num, cfg)
    control, predicted, seconds, settings = propose(model, rho0, scale=scale, energy_weight=energy_weight,
                                                    steps=steps, seed=seed, guidance=guidance, samples=samples)
    scored = score_controls(rho0, control, cfg, energy_weight)
    baseline = score_controls(rho0, torch.zeros_like(control), cfg, energy_weight)
    summary = {"num": rho0.shape[0], "fraction_mean": float(scored["fraction"].mean()),
               "fraction_sem": float(scored["fraction"].std() / rho0.shape[0] ** 0.5) if rho0.shape[0] > 1 else 0.0,
               "model_fraction_mean": float(predicted.mean()), "other_exits_mean": float(scored["other"].mean()),
               "J_mean": float(scored["J"].mean()), "no_control_fraction_mean": float(baseline["fraction"].mean()),
               "seconds": seconds, "steps": steps, "samples": samples, **settings}
    save_npz(out / "smoke_control.npz", {"rho0": rho0, "control": control, "density": scored["density"],
                                         "target_fraction": scored["fraction"], "model_fraction": predicted})
    write_json(summary, out / "smoke_control.json")
    if plot:
        frames = sorted({cfg.frames // 8, cfg.frames // 3, 2 * cfg.frames // 3, cfg.frames})
        density_frames({"no control": baseline["density"][0], "model control": scored["density"][0]}, frames,
                       out / "smoke_control.png", "smoke density, problem 0 (target exit: top centre)")
    return summary
