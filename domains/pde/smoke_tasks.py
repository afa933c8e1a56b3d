"""Training tasks ``pde.wdno_smoke`` (3-D wavelet space) and ``pde.physical_smoke`` (the DiffPhyCon-like baseline)
on the 2-D smoke box (:mod:`genforge.datasets.smoke`).

train (core Trainer on generated smoke trajectories, the Burgers loss of :mod:`genforge.domains.pde.tasks`) ->
save ``model.pt`` -> evaluate simulation (density and target-exit fraction given rho0 and the control, on
held-out trajectories, vs trivial baselines) -> ``metrics.json``. Control is evaluated by
``python -m benchmarks.pde_smoke --wdno ... --physical ...`` / ``genforge pde smoke-control``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

import torch
from torch import Tensor

from genforge.core.config import register_task
from genforge.core.train import TrainConfig
from genforge.datasets.smoke import SmokeConfig, cached_generate, scaled_config
from genforge.domains.pde.model import NetConfig, PDEModel, multiple_of
from genforge.domains.pde.smoke_representation import make_smoke_codec, smoke_fields
from genforge.domains.pde.smoke_sampling import simulate_smoke
from genforge.domains.pde.tasks import train_and_evaluate


@dataclass(frozen=True)
class SmokeDiffusionConfig:
    """Recipe of a smoke diffusion model.

    Args:
        codec: ``smoke_wavelet`` (WDNO) or ``smoke_physical`` (baseline); each task forces its own.
        conditioning: ``clean`` (known entries clean in x_t + mask input, one net for simulate and control)
            or ``replace`` (unconditional joint model); see :mod:`genforge.domains.pde.model`.
        wavelet: pywt name of the wavelet.
        n: cells per side of the box (the default layout scaled, :func:`~genforge.datasets.smoke.scaled_config`).
        frames: stored frames.
        num_train: training trajectories (data seed ``data_seed``).
        num_test: held-out trajectories (seed ``data_seed + 1``).
        data_seed: seed of the generated data.
        net: U-Net size (3-D).
        sample_steps: DDIM steps (= NFE) for evaluation.
        num_eval: held-out trajectories simulated for metrics.json.
        train: core trainer settings.
    """

    codec: Literal["smoke_wavelet", "smoke_physical"] = "smoke_wavelet"
    conditioning: Literal["clean", "replace"] = "clean"
    wavelet: str = "bior2.4"
    n: int = 32
    frames: int = 32
    num_train: int = 800
    num_test: int = 64
    data_seed: int = 0
    net: NetConfig = field(default_factory=NetConfig)
    sample_steps: int = 25
    num_eval: int = 16
    train: TrainConfig = field(default_factory=TrainConfig)

    @property
    def smoke(self) -> SmokeConfig:
        """The box geometry."""
        return scaled_config(self.n, self.frames)


def smoke_data(cfg: SmokeDiffusionConfig, test: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(density, control, cumulative fraction) of the training (or held-out) trajectories."""
    num, seed = (cfg.num_test, cfg.data_seed + 1) if test else (cfg.num_train, cfg.data_seed)
    data = cached_generate(num, seed, cfg.smoke)
    return smoke_fields(data, cfg.smoke)


def evaluate_smoke_simulation(model: PDEModel, cfg: SmokeDiffusionConfig,
                              num: int | None = None) -> dict[str, dict[str, float]]:
    """Relative L2 of the density (t > 0) and abs. error of the final target fraction given (rho0, control)."""
    density, control, fraction = (field_[:min(num or cfg.num_eval, cfg.num_test)]
                                  for field_ in smoke_data(cfg, test=True))
    predicted, predicted_fraction = simulate_smoke(model, density[:, 0], control, steps=cfg.sample_steps,
                                                   seed=cfg.train.seed)

    def scores(rho: Tensor, final: Tensor) -> dict[str, float]:
        error = (rho[:, 1:] - density[:, 1:]).flatten(1).norm(dim=1) / density[:, 1:].flatten(1).norm(dim=1)
        return {"density_rel_l2": float(error.mean()),
                "fraction_abs_error": float((final - fraction[:, -1]).abs().mean())}

    name = "WDNO (3-D wavelet)" if cfg.codec == "smoke_wavelet" else "physical-space diffusion"
    mean_final = torch.full_like(fraction[:, -1], float(smoke_data(cfg)[2][:, -1].mean()))
    return {
        f"{name}, DDIM {cfg.sample_steps} NFE": scores(predicted, predicted_fraction),
        "baseline: rho(t) = rho0, fraction = training mean": scores(density[:, :1].expand_as(density), mean_final),
    }


def run_smoke(cfg: SmokeDiffusionConfig, task: str, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train, save ``model.pt``, evaluate simulation, write ``metrics.json`` (all in ``cfg.train.out_dir``)."""
    fields = smoke_data(cfg)
    codec = make_smoke_codec(cfg.codec, cfg.smoke, multiple_of(cfg.net), wavelet=cfg.wavelet)
    codec.fit_scale(*fields)
    return train_and_evaluate(cfg, task, codec, fields, lambda model: evaluate_smoke_simulation(model, cfg),
                              dims=3, resume=resume)


@register_task("pde.wdno_smoke")
def run_wdno_smoke(cfg: SmokeDiffusionConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """WDNO on smoke: diffusion over the 3-D wavelet coefficients of whole [rho, f, fraction] trajectories."""
    return run_smoke(replace(cfg, codec="smoke_wavelet"), "pde.wdno_smoke", resume=resume)


@register_task("pde.physical_smoke")
def run_physical_smoke(cfg: SmokeDiffusionConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Baseline: the same diffusion directly on the (t, y, x) grid of [rho, f, fraction]."""
    return run_smoke(replace(cfg, codec="smoke_physical"), "pde.physical_smoke", resume=resume)
