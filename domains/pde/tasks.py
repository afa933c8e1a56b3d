"""Training tasks ``pde.wdno`` (wavelet space), ``pde.physical_diffusion`` (the DiffPhyCon-like baseline) and
``pde.superres`` (multi-resolution super-resolution, :mod:`genforge.domains.pde.superres`).

train (core Trainer on generated Burgers trajectories) -> save ``model.pt`` (EMA weights + codec scales)
-> evaluate simulation (relative L2 of u given u0, f on held-out trajectories, vs trivial baselines)
-> ``metrics.json`` in the run folder. Control is evaluated by ``genforge pde evaluate`` /
``python -m benchmarks.pde_burgers`` on the saved models. ``pde.superres`` evaluates 2x / 4x super-resolution
against the fine solver and interpolation (:func:`evaluate_superres`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor, nn

from genforge.core.atomic import write_json
from genforge.core.config import dump_task_config, register_task
from genforge.core.train import TrainConfig, Trainer
from genforge.datasets import burgers_multires
from genforge.datasets.burgers import cached_generate
from genforge.domains.pde.metrics import simulation_scores
from genforge.domains.pde.model import PROCESS, NetConfig, PDEModel, build_unet, model_record, multiple_of, save_model
from genforge.domains.pde.representation import Codec, make_codec
from genforge.domains.pde.sampling import simulate
from genforge.domains.pde.superres import (
    SuperResConfig,
    SuperResModel,
    coarsen,
    consistent_interpolation,
    filter_bank,
    fit_scales,
    interpolate,
    loss_fn_for,
    superres_record,
    superres_scores,
)

if TYPE_CHECKING:
    from genforge.domains.pde.smoke_tasks import SmokeDiffusionConfig


@dataclass(frozen=True)
class PDEConfig:
    """Recipe of a Burgers diffusion model.

    Args:
        codec: ``wavelet`` (WDNO) or ``physical`` (baseline); each task forces its own.
        conditioning: ``clean`` (known entries clean in x_t, mask as input, loss on the unknown ones; one net
            for simulation and control, each drawn with probability 1/2) or ``replace`` (unconditional
            joint model, replacement at sampling); see :mod:`genforge.domains.pde.model`.
        wavelet: pywt name of the wavelet (WDNO uses ``bior2.4``).
        num_train: training trajectories (data seed ``data_seed``).
        num_test: held-out trajectories (data seed ``data_seed + 1``, never trained on).
        data_seed: seed of the generated data.
        refine: solver refinement of the generated data (121 refine - 1 fine points).
        net: U-Net size.
        sample_steps: DDIM steps (= NFE) for evaluation.
        num_eval: held-out trajectories simulated for metrics.json.
        train: core trainer settings.
    """

    codec: Literal["wavelet", "physical"] = "wavelet"
    conditioning: Literal["clean", "replace"] = "clean"
    wavelet: str = "bior2.4"
    num_train: int = 4000
    num_test: int = 256
    data_seed: int = 0
    refine: int = 2
    net: NetConfig = field(default_factory=NetConfig)
    sample_steps: int = 50
    num_eval: int = 64
    train: TrainConfig = field(default_factory=TrainConfig)


def _loss_fn(codec: Codec, conditioning: str):
    """v-prediction loss over the valid entries; with ``clean`` conditioning, see :class:`PDEConfig`."""
    valid = codec.valid()
    known = torch.cat([codec.known(task) for task in codec.tasks])            # [tasks, C, *shape]

    def loss_fn(model: nn.Module, batch: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
        x0 = codec.encode(*batch)
        t = PROCESS.sample_time(x0.shape[0], generator, device=x0.device)
        noise = PROCESS.sample_noise(x0, generator)
        x_t = PROCESS.corrupt(x0, t, noise)
        weight = valid.to(x0.device).expand_as(x0)
        cond = None
        if conditioning == "clean":
            pick = torch.randint(len(codec.tasks), (x0.shape[0],), generator=generator, device=generator.device)
            mask = known[pick].to(x0.device)
            x_t = torch.where(mask, x0, x_t)
            cond = mask.to(x0.dtype)
            weight = weight & ~mask
        error = (model(x_t, t, cond) - PROCESS.target(x0, noise, t)).square()
        return (error * weight).sum() / weight.sum()

    return loss_fn


def model_from_training_checkpoint(cfg: PDEConfig, task: str, path: str | Path) -> PDEModel:
    """The EMA model of a trainer checkpoint of this recipe (e.g. an intermediate ``step_*.pt``).

    The codec scales are refit on the recipe's training data (deterministic, as in :func:`run`).
    """
    from genforge.core.train.checkpoint import load_checkpoint

    data = cached_generate(cfg.num_train, cfg.data_seed, cfg.refine)
    codec = make_codec(cfg.codec, multiple_of(cfg.net), wavelet=cfg.wavelet)
    codec.fit_scale(data["u"], data["f"])
    net = build_unet(cfg.net, codec.channels, codec.channels if cfg.conditioning == "clean" else 0)
    state = load_checkpoint(path)
    net.load_state_dict(state["ema"]["shadow"] if state.get("ema") else state["model"])
    record = model_record(net, codec, cfg.net, cfg.conditioning, task=task, config=dump_task_config(task, cfg),
                          steps=int(state["step"]))
    return PDEModel(net.eval(), codec, record)


def evaluate_simulation(model: PDEModel, cfg: PDEConfig, num: int | None = None) -> dict[str, dict[str, float]]:
    """Relative L2 / MSE of u(t > 0) given (u0, f) on held-out trajectories, model vs trivial baselines."""
    test = cached_generate(cfg.num_test, cfg.data_seed + 1, cfg.refine)
    num = min(num or cfg.num_eval, cfg.num_test)
    u, f = test["u"][:num], test["f"][:num]
    predicted = simulate(model, u[:, 0], f, steps=cfg.sample_steps, seed=cfg.train.seed)
    name = "WDNO (wavelet)" if cfg.codec == "wavelet" else "physical-space diffusion"
    return {
        f"{name}, DDIM {cfg.sample_steps} NFE": simulation_scores(predicted, u),
        "baseline: u(t) = u0": simulation_scores(u[:, :1].expand_as(u), u),
        "baseline: u(t) = 0": simulation_scores(torch.zeros_like(u), u),
    }


def train_and_evaluate(cfg: PDEConfig | SmokeDiffusionConfig, task: str, codec: Codec, fields: tuple[Tensor, ...],
                       evaluate: Callable[[PDEModel], dict[str, dict[str, float]]], *, dims: int = 2,
                       resume: bool = False) -> dict[str, dict[str, float]]:
    """Train ``codec``'s diffusion U-Net (``dims``-D) on the training ``fields`` with :func:`_loss_fn`, then on
    rank 0: evaluate the EMA model on CPU with ``evaluate``, save ``model.pt`` and write ``metrics.json`` (both
    in ``cfg.train.out_dir``). Returns the simulation metrics ({} on other ranks)."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        net = build_unet(cfg.net, codec.channels, codec.channels if cfg.conditioning == "clean" else 0, dims)
    config = dump_task_config(task, cfg)
    trainer = Trainer(net, _loss_fn(codec, cfg.conditioning), fields, cfg.train, config_dict=config)
    if trainer.fit(resume=resume) is None:
        return {}
    record = model_record(trainer.model, codec, cfg.net, cfg.conditioning, task=task, config=config,
                          steps=trainer.step)
    metrics = evaluate(PDEModel(trainer.model.cpu().eval(), codec, record))
    record["metrics"] = {"simulation": metrics}
    out = Path(cfg.train.out_dir)
    save_model(record, out / "model.pt")
    write_json({"task": task, "steps": trainer.step, "simulation": metrics}, out / "metrics.json")
    return metrics


def run(cfg: PDEConfig, task: str, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train, save ``model.pt``, evaluate simulation, write ``metrics.json`` (all in ``cfg.train.out_dir``)."""
    data = cached_generate(cfg.num_train, cfg.data_seed, cfg.refine)
    codec = make_codec(cfg.codec, multiple_of(cfg.net), wavelet=cfg.wavelet)
    codec.fit_scale(data["u"], data["f"])
    return train_and_evaluate(cfg, task, codec, (data["u"], data["f"]),
                              lambda model: evaluate_simulation(model, cfg), resume=resume)


@register_task("pde.wdno")
def run_wdno(cfg: PDEConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """WDNO: diffusion over the wavelet coefficients of whole [u, f] trajectories."""
    return run(replace(cfg, codec="wavelet"), "pde.wdno", resume=resume)


@register_task("pde.physical_diffusion")
def run_physical(cfg: PDEConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Baseline: the same diffusion model directly on the [u, f] grid (DiffPhyCon-like)."""
    return run(replace(cfg, codec="physical"), "pde.physical_diffusion", resume=resume)


def evaluate_superres(model: SuperResModel, cfg: SuperResConfig, num: int | None = None,
                      steps: int | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Per factor F in ``cfg.eval_factors``: relative L2 / MSE against the fine solver on the F x finer grid
    than training, from its F-fold coarse band (the training grid), model vs interpolation baselines."""
    num = min(num or cfg.num_eval, cfg.num_test)
    bank = model.bank
    out = {}
    for factor in cfg.eval_factors:
        truth = burgers_multires.cached_generate(cfg.num_test, cfg.data_seed + 1, cfg.frames * factor,
                                                 cfg.points * factor, cfg.eval_solver_points)[:num]
        coarse = coarsen(truth, bank, factor.bit_length() - 1)
        predicted = model.superresolve(coarse, factor, steps=steps or cfg.sample_steps, seed=cfg.train.seed)
        out[f"{factor}x"] = {
            f"WDNO super-resolution ({cfg.wavelet}, {cfg.base} base), DDIM {steps or cfg.sample_steps} NFE per level":
                superres_scores(predicted, truth),
            **{f"baseline: {mode} interpolation": superres_scores(interpolate(coarse, factor, mode), truth)
               for mode in ("bicubic", "bilinear", "nearest")},
            "baseline: coarse band + bicubic details": superres_scores(
                consistent_interpolation(coarse, factor, bank), truth),
        }
    return out


@register_task("pde.superres")
def run_superres(cfg: SuperResConfig, *, resume: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Super-resolution across wavelet levels: train on the training grid's levels, evaluate at 2x / 4x finer."""
    data = burgers_multires.cached_generate(cfg.num_train, cfg.data_seed, cfg.frames, cfg.points, cfg.solver_points)
    bank = filter_bank(cfg.wavelet)
    coarse_scale, detail_scale = fit_scales(data.double(), bank, cfg.levels, cfg.base)
    multiple = multiple_of(cfg.net)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        net = build_unet(cfg.net, 3, 1)
    loss_fn = loss_fn_for(bank.float(), cfg.base, coarse_scale, detail_scale, cfg.levels, multiple)
    trainer = Trainer(net, loss_fn, (data,), cfg.train, config_dict=dump_task_config("pde.superres", cfg))
    if trainer.fit(resume=resume) is None:
        return {}
    model = SuperResModel(trainer.model.cpu().eval(), cfg.wavelet, cfg.base, coarse_scale, detail_scale, multiple)
    metrics = evaluate_superres(model, cfg)
    record = superres_record(model, cfg.net, config=dump_task_config("pde.superres", cfg), steps=trainer.step,
                             metrics=metrics)
    out = Path(cfg.train.out_dir)
    save_model(record, out / "model.pt")
    write_json({"task": "pde.superres", "steps": trainer.step, "superres": metrics}, out / "metrics.json")
    return metrics


from genforge.domains.pde import smoke_tasks  # noqa: E402, F401  (registers pde.wdno_smoke / pde.physical_smoke)
