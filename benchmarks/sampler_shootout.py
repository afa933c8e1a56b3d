"""Error vs NFE of genforge's ODE solvers, diffusers' DPMSolverMultistepScheduler and k-diffusion, side by side.

``python -m benchmarks.sampler_shootout``: on the 2-D eight-Gaussians mixture with its exact denoiser under
the continuous VPLinear path, every solver starts from the same noise and walks the same sigma ladder; the
error is the RMS distance of its samples to the exact PF-ODE endpoint (a DPM-Solver++(3M) solve with 2000
log-SNR steps, checked against Heun). diffusers gets the path as ``trained_betas`` (1000 steps with
alpha_bar_j = alpha(t_j)^2, t_j = (j + 1) / 1000) and an exact eps model; k-diffusion's ``sampling.py`` is
loaded alone by file path (its package __init__ needs torchvision) and gets the exact denoiser in its
x / alpha, sigma / alpha convention. Three ladders are run: diffusers' default ("linspace" timesteps), its
Karras sigmas, and the time-quadratic ladder t_i = (i / n)^2 (DPM-Solver's "time_quadratic", given to diffusers
as custom timesteps); all end with sigma = 0. Appends tables to benchmarks/RESULTS.md and writes
benchmarks/figures/sampler_shootout.png.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import types
from collections.abc import Callable
from functools import cache
from pathlib import Path

import matplotlib
import numpy as np
import torch
from torch import Tensor

from benchmarks.results import append_result
from genforge.core import grids
from genforge.core.processes.gaussian import VPLinear
from genforge.core.solvers import ddim, dpm_solver_pp_2m, dpm_solver_pp_3m, euler, heun
from genforge.core.solvers.ode import PathPoint, denoise_at, path_point
from genforge.core.toy import ExactMixtureDenoiser, eight_gaussians_mixture

matplotlib.use("Agg")
import matplotlib.pyplot as plt

FIGURE = Path(__file__).resolve().parent / "figures" / "sampler_shootout.png"
NFES = (5, 10, 20, 50)
LADDERS = ("linspace", "karras", "quadratic")
TRAIN_STEPS = 1000
PROCESS = VPLinear()

Run = Callable[[ExactMixtureDenoiser, Tensor, int, str], tuple[Tensor, int]]
"""``run(denoiser, x_init, nfe_budget, ladder) -> (samples, NFE actually used)``."""


def trained_betas() -> np.ndarray:
    """DDPM betas whose cumulative products are alpha(t_j)^2 of VPLinear at t_j = (j + 1) / 1000."""
    t = torch.arange(1, TRAIN_STEPS + 1, dtype=torch.float64) / TRAIN_STEPS
    alpha_bar = PROCESS.alpha(t).square()
    previous = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
    return (1.0 - alpha_bar / previous).numpy()


def diffusers_scheduler(ladder: str, order: int):  # type: ignore[no-untyped-def]
    """DPMSolverMultistepScheduler (DPM-Solver++, its defaults otherwise) on the matched VP schedule."""
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler(num_train_timesteps=TRAIN_STEPS, trained_betas=trained_betas(),
                                       solver_order=order, use_karras_sigmas=ladder == "karras")


def quadratic_timesteps(steps: int) -> list[int]:
    """diffusers' training-step indices j (t_j = (j + 1) / 1000) nearest to t_i = (i / steps)^2, i = steps .. 1,
    strictly descending (a collision near t = 0 moves the later index down by one)."""
    wanted = (torch.arange(steps, 0, -1, dtype=torch.float64) / steps).square() * TRAIN_STEPS - 1.0
    indices: list[int] = []
    for j in wanted.round().clamp_min(0).long().tolist():
        indices.append(min(j, indices[-1] - 1) if indices else j)
    if indices[-1] < 0:
        raise ValueError(f"{steps} quadratic steps do not fit in {TRAIN_STEPS} training steps")
    return indices


def set_ladder(scheduler, steps: int, ladder: str) -> None:  # type: ignore[no-untyped-def]
    """``scheduler.set_timesteps`` for ``steps`` steps on ``ladder``."""
    if ladder == "quadratic":
        scheduler.set_timesteps(timesteps=quadratic_timesteps(steps))
    else:
        scheduler.set_timesteps(steps)


def sigma_ladder(steps: int, ladder: str) -> Tensor:
    """diffusers' noise ratios sigma / alpha for ``steps`` steps, ending with 0 (float64, ``[steps + 1]``)."""
    scheduler = diffusers_scheduler(ladder, 2)
    set_ladder(scheduler, steps, ladder)
    return scheduler.sigmas.to(torch.float64)


def times_of(ratios: Tensor) -> Tensor:
    """Grid times with sigma(t) / alpha(t) = ratio; ratio 0 maps to t = 0 exactly."""
    t = PROCESS.t_from_log_snr(-2.0 * ratios.clamp_min(1e-300).log())
    return torch.where(ratios > 0, t, torch.zeros_like(t))


def genforge_run(solver: Callable[..., Tensor], nfe_per_step: int) -> Run:
    def run(denoiser: ExactMixtureDenoiser, x_init: Tensor, budget: int, ladder: str) -> tuple[Tensor, int]:
        steps = budget // nfe_per_step
        return solver(denoiser, x_init, times_of(sigma_ladder(steps, ladder))), steps * nfe_per_step
    return run


def diffusers_run(order: int) -> Run:
    def run(denoiser: ExactMixtureDenoiser, x_init: Tensor, budget: int, ladder: str) -> tuple[Tensor, int]:
        scheduler = diffusers_scheduler(ladder, order)
        set_ladder(scheduler, budget, ladder)
        t = times_of(scheduler.sigmas.to(torch.float64))
        x = x_init
        for i, timestep in enumerate(scheduler.timesteps):
            _, eps = denoise_at(denoiser, x, float(t[i]))
            x = scheduler.step(eps, timestep, x).prev_sample
        return x, budget
    return run


@cache
def load_k_diffusion_sampling() -> types.ModuleType:
    """k_diffusion/sampling.py alone: a stub package provides the one helper it imports from utils."""
    spec = importlib.util.find_spec("k_diffusion")
    folder = Path(spec.submodule_search_locations[0])  # type: ignore[union-attr, index]
    package = types.ModuleType("k_diffusion")
    package.__path__ = [str(folder)]
    utils = types.ModuleType("k_diffusion.utils")
    utils.append_dims = lambda x, ndim: x[(...,) + (None,) * (ndim - x.ndim)]  # type: ignore[attr-defined]
    sys.modules.setdefault("k_diffusion", package)
    sys.modules.setdefault("k_diffusion.utils", utils)
    module_spec = importlib.util.spec_from_file_location("k_diffusion.sampling", folder / "sampling.py")
    module = importlib.util.module_from_spec(module_spec)  # type: ignore[arg-type]
    module_spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def k_diffusion_run(name: str, nfe_per_step: int) -> Run:
    """k-diffusion samplers on x_k = x / alpha with sigma_k = sigma / alpha; ``heun`` ends with an Euler
    step, so n steps cost 2n - 1 NFE."""
    def run(denoiser: ExactMixtureDenoiser, x_init: Tensor, budget: int, ladder: str) -> tuple[Tensor, int]:
        sampler = getattr(load_k_diffusion_sampling(), name)
        steps = (budget + nfe_per_step - 1) // nfe_per_step
        ratios = sigma_ladder(steps, ladder)
        t_max = times_of(ratios[:1])

        def model(x_k: Tensor, ratio: Tensor) -> Tensor:
            t = float(times_of(ratio[:1].to(torch.float64)))
            alpha = float(PROCESS.alpha(torch.tensor(t, dtype=torch.float64)))
            return denoise_at(denoiser, alpha * x_k, t)[0]

        x_k = sampler(model, x_init / PROCESS.alpha(t_max), ratios, disable=True)
        return x_k, steps * nfe_per_step - (nfe_per_step - 1)
    return run


RUNS: dict[str, Run] = {
    "genforge euler": genforge_run(euler, 1),
    "genforge ddim": genforge_run(ddim, 1),
    "genforge heun": genforge_run(heun, 2),
    "genforge dpm++2m": genforge_run(dpm_solver_pp_2m, 1),
    "genforge dpm++3m": genforge_run(dpm_solver_pp_3m, 1),
    "diffusers dpm++2m": diffusers_run(2),
    "diffusers dpm++3m": diffusers_run(3),
}
K_DIFFUSION_RUNS: dict[str, Run] = {
    "k-diffusion dpmpp_2m": k_diffusion_run("sample_dpmpp_2m", 1),
    "k-diffusion heun": k_diffusion_run("sample_heun", 2),
}
K_DIFFUSION_DEPENDENCIES = ("k_diffusion", "torchsde", "torchdiffeq", "tqdm", "scipy")


@cache
def available_runs() -> dict[str, Run]:
    """genforge and diffusers always; k-diffusion where it and its sampling module's imports are installed
    (``pip install --no-deps k-diffusion`` plus ``torchsde torchdiffeq``)."""
    if all(importlib.util.find_spec(name) is not None for name in K_DIFFUSION_DEPENDENCIES):
        return RUNS | K_DIFFUSION_RUNS
    print("k-diffusion (or torchsde / torchdiffeq) not installed: its rows are left out")
    return RUNS


def reference(denoiser: ExactMixtureDenoiser, x_init: Tensor) -> tuple[Tensor, float]:
    """PF-ODE endpoint from t = 1 (3M, 2000 log-SNR steps) and its distance to a 2000-step Heun solve."""
    grid = grids.log_snr(2000, PROCESS, t_min=1e-6, ratio_cap=math.inf)
    exact = dpm_solver_pp_3m(denoiser, x_init, grid)
    return exact, rms(heun(denoiser, x_init, grid), exact)


def rms(a: Tensor, b: Tensor) -> float:
    """Root mean squared Euclidean distance between matched samples."""
    return float((a - b).square().sum(dim=1).mean().sqrt())


def fitted_order(nfes: list[int], errors: list[float]) -> float:
    """Least-squares slope of -log(error) against log(NFE) over budgets >= 10."""
    keep = [(n, e) for n, e in zip(nfes, errors, strict=True) if n >= 10]
    x = np.log([n for n, _ in keep])
    y = -np.log([e for _, e in keep])
    return float(np.polyfit(x, y, 1)[0])


def shootout(ladder: str, n_samples: int, seed: int) -> tuple[dict[str, tuple[list[int], list[float]]], float]:
    """Errors of every run at every NFE budget on one ladder; also the reference's own accuracy."""
    denoiser = ExactMixtureDenoiser(eight_gaussians_mixture(), PROCESS)
    x_init = PROCESS.prior((n_samples, 2), torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact, reference_error = reference(denoiser, x_init)
    results = {}
    for name, run in available_runs().items():
        outputs = [run(denoiser, x_init, budget, ladder) for budget in NFES]
        results[name] = ([nfe for _, nfe in outputs], [rms(x, exact) for x, _ in outputs])
    return results, reference_error


def _final_steps(denoiser: ExactMixtureDenoiser, states: tuple[Tensor, Tensor], points: tuple[PathPoint, PathPoint],
                 exact: Tensor) -> tuple[float, float]:
    """Errors of the jump D(x_last) and of the linear extrapolation in u through D(x_prev), D(x_last)."""
    (state, previous_state), (last, previous) = states, points
    d_last = denoise_at(denoiser, state, last.t)[0]
    d_previous = denoise_at(denoiser, previous_state, previous.t)[0]
    weight = last.u / (previous.u - last.u)
    return rms(d_last, exact), rms(d_last + weight * (d_last - d_previous), exact)


def final_step_breakdown(ladder: str, n_samples: int, seed: int) -> str:
    """Where DPM-Solver++(2M)'s error comes from: the interior (state at the last sigma > 0 vs the exact
    PF-ODE state there) and the last step to sigma = 0, done as diffusers' first-order jump (return D) or
    genforge's linear extrapolation of D in u (also from the exact state: the last step's own truncation)."""
    denoiser = ExactMixtureDenoiser(eight_gaussians_mixture(), PROCESS)
    x_init = PROCESS.prior((n_samples, 2), torch.Generator().manual_seed(seed), dtype=torch.float64)
    exact, _ = reference(denoiser, x_init)
    lines = [f"**{ladder} ladder: DPM-Solver++(2M) error by part** (RMS to the exact endpoint)", "",
             "| NFE | interior error | u_prev / u_last | jump (diffusers) | u-extrapolation (genforge) "
             "| jump from exact state | extrapolation from exact state |", "|---" * 7 + "|"]
    for nfe in NFES:
        grid = times_of(sigma_ladder(nfe, ladder))
        fine = torch.linspace(float(grid[0]), float(grid[-2]), 4001, dtype=torch.float64)
        interior, exact_state = dpm_solver_pp_2m(denoiser, x_init, grid[:-1]), dpm_solver_pp_3m(denoiser, x_init, fine)
        last, previous = (path_point(PROCESS, float(grid[k])) for k in (-2, -3))
        ours = _final_steps(denoiser, (interior, dpm_solver_pp_2m(denoiser, x_init, grid[:-2])),
                            (last, previous), exact)
        ideal = _final_steps(denoiser, (exact_state, dpm_solver_pp_3m(denoiser, x_init, fine[fine >= previous.t])),
                             (last, previous), exact)
        lines.append(f"| {nfe} | {rms(interior, exact_state):.2e} | {previous.u / last.u:.2f} | {ours[0]:.2e} | "
                     f"{ours[1]:.2e} | {ideal[0]:.2e} | {ideal[1]:.2e} |")
    return "\n".join(lines)


def markdown(ladder: str, results: dict[str, tuple[list[int], list[float]]], reference_error: float) -> str:
    header = "| solver | " + " | ".join(f"NFE {n}" for n in NFES) + " | order (NFE >= 10) |"
    lines = [f"**{ladder} ladder** (RMS error to the exact PF-ODE endpoint; reference accuracy "
             f"{reference_error:.1e}; NFE used in brackets where it differs)", "", header,
             "|---" * (len(NFES) + 2) + "|"]
    for name, (nfes, errors) in results.items():
        cells = [f"{e:.2e}" + ("" if n == b else f" [{n}]") for n, e, b in zip(nfes, errors, NFES, strict=True)]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {fitted_order(nfes, errors):.2f} |")
    ours, theirs = results["genforge dpm++2m"][1], results["diffusers dpm++2m"][1]
    relative = ", ".join(f"{n}: {a / b:.3f}" for n, a, b in zip(NFES, ours, theirs, strict=True))
    lines += ["", f"genforge / diffusers DPM-Solver++(2M) error ratio by NFE: {relative}."]
    return "\n".join(lines)


def plot(all_results: dict[str, dict[str, tuple[list[int], list[float]]]]) -> None:
    fig, axes = plt.subplots(1, len(all_results), figsize=(6 * len(all_results), 4.5), sharey=True)
    for ax, (ladder, results) in zip(np.atleast_1d(axes), all_results.items(), strict=True):
        for name, (nfes, errors) in results.items():
            style = "-o" if name.startswith("genforge") else "--s"
            ax.loglog(nfes, errors, style, label=name, markersize=4)
        ax.set(title=f"eight Gaussians, VPLinear, {ladder} ladder", xlabel="NFE",
               ylabel="RMS error to exact PF-ODE endpoint")
        ax.grid(True, which="both", alpha=0.3)
    np.atleast_1d(axes)[0].legend(fontsize=7)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = parser.parse_args()
    all_results, tables = {}, []
    for ladder in LADDERS:
        results, reference_error = shootout(ladder, args.samples, args.seed)
        all_results[ladder] = results
        tables.append(markdown(ladder, results, reference_error))
        tables.append(final_step_breakdown(ladder, args.samples, args.seed))
    plot(all_results)
    body = ("Eight-Gaussians mixture (exact denoiser), VPLinear (beta 0.1 -> 20), "
            f"{args.samples} samples from t = 1, same noise and same sigma ladder for every solver.\n\n"
            + "\n\n".join(tables) + f"\n\nFigure: `benchmarks/figures/{FIGURE.name}`.")
    print(body)
    if not args.no_record:
        append_result("Sampler shootout (benchmarks/sampler_shootout.py)", body)


if __name__ == "__main__":
    main()
