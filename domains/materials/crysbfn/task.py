r"""Tasks ``materials.crysbfn`` and ``materials.diffcsp``: crystal structure prediction (composition given).

Both train the same :class:`~genforge.domains.materials.crysbfn.model.CrystalNet` with the core Trainer on
the dataset's train split, then predict one structure per held-out composition (the val split) and report
the CSP match rate / RMSE next to the template-substitution baseline in ``metrics.json``.

* CrysBFN (Wu et al. 2025): periodic Bayesian flow on fractional coordinates (:class:`VonMisesBFN`, entropy
  schedule, network conditioned on the sampled concentrations, discrete-time loss) and a Gaussian BFN on the
  normalised lattice parameters (log lengths, angles; see ``model``; :class:`ContinuousBFN`, data prediction,
  continuous-time loss), at one shared time per crystal; each loss is divided by its mean weight over time
  (CrysBFN's weight normalisation).
* DiffCSP (Jiao et al. 2023): wrapped-normal score matching on the coordinates (:class:`WrappedNormalTorus`)
  and DDPM (cosine schedule, eps prediction) on the same normalised lattice parameters (DiffCSP diffuses the
  raw 3 x 3 matrix; the shared representation keeps the comparison about the coordinate process).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from rich.console import Console
from rich.progress import track
from rich.table import Table
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.atomic import write_json
from genforge.core.config import dump_task_config, register_task, task_from_dict
from genforge.core.processes.bfn import ContinuousBFN
from genforge.core.processes.gaussian import VPCosine
from genforge.core.processes.periodic import VonMisesBFN, WrappedNormalTorus
from genforge.core.processes.von_mises import mean_resultant_length
from genforge.core.solvers.crystal import periodic_lattice_bfn, torus_lattice_pc
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.data import IndexedData
from genforge.core.train.inference import TrainedWeights, load_into
from genforge.datasets.atoms_dataset import AtomsDataset
from genforge.datasets.batch import AtomsBatch
from genforge.datasets.crystals import load_crystals
from genforge.domains.materials.baselines import TemplateBaseline
from genforge.domains.materials.crysbfn.model import LATTICE_DIM, CrystalNet, lattice_features
from genforge.domains.materials.metrics import Crystal, csp_metrics

Kind = Literal["crysbfn", "diffcsp"]
DIFFUSION_T_MAX = 0.999
"""DiffCSP's first step (T = 1000 of 1000): the cosine schedule has alpha(1) = 0 exactly."""
SAMPLE_CHUNK = 256


@dataclass(frozen=True)
class CrystalNetConfig:
    """CSPNet size: ``hidden`` width, ``num_layers`` message-passing layers, ``num_frequencies`` Fourier
    frequencies of the fractional differences, ``time_dim`` time-embedding width."""

    hidden: int = 128
    num_layers: int = 4
    num_frequencies: int = 10
    time_dim: int = 64


@dataclass(frozen=True)
class CrystalCSPConfig:
    """Recipe of a CSP model (CrysBFN or the DiffCSP-style baseline; each reads its own fields).

    Args:
        dataset: folder under the data root (``perov_5``, ``carbon_24``, ``mp_20``).
        data_root: the data root (default: ``$GENFORGE_DATA`` or ``../shared/data``).
        val_fraction: held-out share of a single-file dataset (``load_crystals``).
        max_eval: evaluate on the first ``max_eval`` held-out structures (None: all).
        net: the network size (identical for both models).
        beta_1: CrysBFN final von Mises accuracy (radians^-2).
        flow_steps: n of the simulated periodic flow and of the discrete-time training grid.
        sigma_1: CrysBFN lattice BFN final standard deviation (normalised units).
        sigma_min, sigma_max: DiffCSP torus noise range (fractional units).
        step_lr: DiffCSP corrector step (0 disables the corrector).
        lattice_clip: DiffCSP: clip the lattice x0 estimate to +- this (normalised units), as DDPM's
            ``clip_denoised``; None: no clipping.
        coord_loss: CrysBFN coordinate loss weighting over time: ``kl`` = the paper's discrete-time KL weight
            n alpha_i A(alpha_i) (normalised by its mean; almost all weight on the last steps), ``uniform`` =
            the same misfit 1 - cos(2 pi (x - x_hat)) with equal weight at every step (as DDPM's simple loss).
        lattice_weight: weight of the lattice loss.
        sample_steps: sampling steps for the evaluation.
        sample_noise_scale: CrysBFN sampler's sender-noise scale (1: the Bayesian flow; see
            :func:`~genforge.core.solvers.crystal.periodic_lattice_bfn`).
        train: core trainer settings.
    """

    dataset: str = "perov_5"
    data_root: Path | None = None
    val_fraction: float = 0.1
    max_eval: int | None = None
    net: CrystalNetConfig = field(default_factory=CrystalNetConfig)
    beta_1: float = 1000.0
    flow_steps: int = 200
    sigma_1: float = 0.01
    sigma_min: float = 0.005
    sigma_max: float = 0.5
    step_lr: float = 1e-5
    lattice_clip: float | None = 5.0
    coord_loss: Literal["kl", "uniform"] = "kl"
    lattice_weight: float = 1.0
    sample_steps: int = 100
    sample_noise_scale: float = 1.0
    train: TrainConfig = field(default_factory=TrainConfig)


def load_split(cfg: CrystalCSPConfig, split: Literal["train", "val"]) -> AtomsDataset:
    """The recipe's dataset split."""
    return load_crystals(cfg.dataset, split, root=cfg.data_root, val_fraction=cfg.val_fraction)


def build_model(cfg: CrystalCSPConfig, lattice_mean: Tensor, lattice_std: Tensor) -> CrystalNet:
    """The network (weights from ``cfg.train.seed``) with the lattice normalisation ``[6]`` of the data."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        net = cfg.net
        return CrystalNet(net.hidden, net.num_layers, net.num_frequencies, net.time_dim, lattice_mean, lattice_std,
                          beta_1=cfg.beta_1)


def lattice_statistics(train: AtomsDataset) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation ``[6]`` of the training cells' (log lengths, angles)."""
    features = lattice_features(train.cell.double()).float()
    return features.mean(0), features.std(0) if features.shape[0] > 1 else torch.ones(LATTICE_DIM)


@dataclass(frozen=True)
class Processes:
    """The processes of one recipe."""

    coords: VonMisesBFN
    lattice: ContinuousBFN
    torus: WrappedNormalTorus
    lattice_diffusion: VPCosine

    @classmethod
    def of(cls, cfg: CrystalCSPConfig) -> Processes:
        return cls(VonMisesBFN(beta_1=cfg.beta_1, num_steps=cfg.flow_steps),
                   ContinuousBFN(sigma_1=cfg.sigma_1, prediction="x0"),
                   WrappedNormalTorus(sigma_min=cfg.sigma_min, sigma_max=cfg.sigma_max),
                   VPCosine(prediction="eps"))

    def coordinate_weight_norm(self) -> float:
        """Mean over the training grid of CrysBFN's coordinate loss weight n alpha_i A(alpha_i)."""
        alphas = self.coords.accuracies()
        return float((self.coords.num_steps * alphas * mean_resultant_length(alphas)).mean())

    def lattice_weight_norm(self) -> float:
        """Mean over s in [0, 1] of the Gaussian BFN loss weight -ln(sigma_1) sigma_1^(-2 s)."""
        return 0.5 * (self.lattice.sigma_1 ** -2 - 1.0)


def crysbfn_loss(model: nn.Module, batch: AtomsBatch, generator: torch.Generator, processes: Processes,
                 lattice_weight: float, uniform: bool = False) -> tuple[Tensor, dict[str, float]]:
    """CrysBFN training loss of one batch (module docstring); returns (loss, {coord, lattice})."""
    t = processes.coords.sample_time(batch.num_graphs, generator, device=batch.species.device)
    noise = processes.coords.sample_noise(batch.frac, generator, t[batch.batch])
    lattice_noise = torch.randn((batch.num_graphs, LATTICE_DIM), generator=generator, dtype=batch.frac.dtype,
                                device=batch.frac.device)
    coord, lat = crysbfn_terms(model, batch, t, noise, lattice_noise, processes, uniform=uniform)
    return coord + lattice_weight * lat, {"coord": float(coord.detach()), "lattice": float(lat.detach())}


def crysbfn_terms(model: nn.Module, batch: AtomsBatch, t: Tensor, noise: Tensor, lattice_noise: Tensor,
                  processes: Processes, *, uniform: bool = False) -> tuple[Tensor, Tensor]:
    """(coordinate loss, lattice loss) at times ``t [B]`` with the sender noise ``[N, 3, n + 1]`` and the
    lattice flow noise ``[B, 6]``, each normalised by its mean weight (``uniform``: unweighted misfit)."""
    net = _unwrap(model)
    t_atoms = t[batch.batch]
    m, c = processes.coords.flow_parameters(batch.frac, t_atoms, noise)
    lattice = net.normalise(batch.cell)
    mu = processes.lattice.corrupt(lattice, t, lattice_noise)
    x_hat, lattice_hat = model("bfn", m, c, mu, t, batch.species, batch.batch)
    if uniform:
        coord = (1.0 - torch.cos(2.0 * math.pi * (x_hat - batch.frac))).mean()
    else:
        coord = processes.coords.loss(x_hat, batch.frac, noise, t_atoms).mean() / processes.coordinate_weight_norm()
    lat = processes.lattice.loss(lattice_hat, lattice, lattice_noise, t).mean() / processes.lattice_weight_norm()
    return coord, lat


def diffcsp_loss(model: nn.Module, batch: AtomsBatch, generator: torch.Generator, processes: Processes,
                 lattice_weight: float) -> tuple[Tensor, dict[str, float]]:
    """DiffCSP training loss: MSE to the normalised wrapped-normal score + MSE to the lattice eps."""
    t = processes.torus.sample_time(batch.num_graphs, generator, device=batch.species.device)
    noise = processes.torus.sample_noise(batch.frac, generator)
    lattice_noise = torch.randn((batch.num_graphs, LATTICE_DIM), generator=generator, dtype=batch.frac.dtype,
                                device=batch.frac.device)
    coord, lat = diffcsp_terms(model, batch, t, noise, lattice_noise, processes)
    return coord + lattice_weight * lat, {"coord": float(coord.detach()), "lattice": float(lat.detach())}


def diffcsp_terms(model: nn.Module, batch: AtomsBatch, t: Tensor, noise: Tensor, lattice_noise: Tensor,
                  processes: Processes) -> tuple[Tensor, Tensor]:
    """(coordinate score MSE, lattice eps MSE) at times ``t [B]`` with noise ``[N, 3]`` and ``[B, 6]``."""
    net = _unwrap(model)
    t_atoms = t[batch.batch]
    x_t = processes.torus.corrupt(batch.frac, t_atoms, noise)
    lattice_t = processes.lattice_diffusion.corrupt(net.normalise(batch.cell), t, lattice_noise)
    score, eps = model("diffusion", x_t, lattice_t, t, batch.species, batch.batch)
    coord = (score - processes.torus.target(batch.frac, noise, t_atoms)).square().mean()
    return coord, (eps - lattice_noise).square().mean()


def _unwrap(model: nn.Module) -> CrystalNet:
    return model.module if hasattr(model, "module") else model  # type: ignore[return-value]


@torch.no_grad()
def predict_structures(model: CrystalNet, kind: Kind, cfg: CrystalCSPConfig, species: Tensor, num_atoms: Tensor,
                       steps: int, seed: int, *, progress: bool = False,
                       noise_scale: float | None = None) -> tuple[Tensor, Tensor]:
    """One structure per composition: ``species [N]`` grouped by ``num_atoms [B]`` -> (frac ``[N, 3]``,
    cell ``[B, 3, 3]`` Angstrom), sampled in chunks of ``SAMPLE_CHUNK`` crystals with ``steps`` steps
    (CrysBFN's sender noise scaled by ``noise_scale``, default ``cfg.sample_noise_scale``)."""
    model.eval()
    processes = Processes.of(cfg)
    generator = torch.Generator().manual_seed(seed)
    ptr = torch.cat([num_atoms.new_zeros(1), num_atoms.cumsum(0)]).tolist()
    fracs, cells = [], []
    chunks = range(0, num_atoms.shape[0], SAMPLE_CHUNK)
    for start in track(chunks, description=f"{kind} {steps} steps", disable=not progress):
        stop = min(start + SAMPLE_CHUNK, num_atoms.shape[0])
        batch = torch.repeat_interleave(torch.arange(stop - start), num_atoms[start:stop])
        frac, lattice = _sample_chunk(model, kind, cfg, processes, species[ptr[start]:ptr[stop]], batch,
                                      stop - start, steps, generator,
                                      cfg.sample_noise_scale if noise_scale is None else noise_scale)
        fracs.append(frac)
        cells.append(model.denormalise(lattice))
    return torch.cat(fracs), torch.cat(cells)


def _sample_chunk(model: CrystalNet, kind: Kind, cfg: CrystalCSPConfig, processes: Processes, species: Tensor,
                  batch: Tensor, num_graphs: int, steps: int, generator: torch.Generator,
                  noise_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """(frac ``[N, 3]``, normalised lattice ``[B, 6]``) of one chunk with the model's own sampler."""
    shape = (species.shape[0], 3)
    if kind == "crysbfn":
        def bfn(m: Tensor, c: Tensor, mu: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
            return model.bfn(m, c, mu, t, species, batch)

        return periodic_lattice_bfn(bfn, processes.coords, processes.lattice, processes.coords.prior(shape, generator),
                                    processes.lattice.prior((num_graphs, LATTICE_DIM)), grids.uniform(steps),
                                    generator=generator, noise_scale=noise_scale)

    def diffusion(x: Tensor, lattice: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return model.diffusion(x, lattice, t, species, batch)

    return torus_lattice_pc(diffusion, processes.torus, processes.lattice_diffusion,
                            processes.torus.prior(shape, generator),
                            torch.randn((num_graphs, LATTICE_DIM), generator=generator),
                            grids.uniform(steps, DIFFUSION_T_MAX), generator=generator, step_lr=cfg.step_lr,
                            x0_clip=cfg.lattice_clip)


def crystals_of(species: Tensor, frac: Tensor, cell: Tensor, num_atoms: Tensor) -> list[Crystal]:
    """pymatgen-backed :class:`Crystal` objects from flat arrays (float64)."""
    counts = num_atoms.tolist()
    return [Crystal.from_arrays(s.tolist(), f.double().numpy(), c.double().numpy())
            for s, f, c in zip(species.split(counts), frac.split(counts), cell.unbind(0), strict=True)]


def evaluate_csp(model: CrystalNet, kind: Kind, cfg: CrystalCSPConfig, held_out: AtomsDataset, steps: int,
                 seed: int, noise_scale: float | None = None) -> dict[str, float]:
    """CSP metrics of the model on ``held_out`` (one sample per composition) and sampling throughput."""
    begin = time.perf_counter()
    frac, cell = predict_structures(model, kind, cfg, held_out.species, held_out.num_atoms, steps, seed,
                                    progress=True, noise_scale=noise_scale)
    seconds = time.perf_counter() - begin
    references = crystals_of(held_out.species, held_out.frac, held_out.cell, held_out.num_atoms)
    metrics = csp_metrics(crystals_of(held_out.species, frac, cell, held_out.num_atoms), references)
    nfe = steps + 1 if kind == "crysbfn" else (2 if cfg.step_lr > 0 else 1) * steps
    return {**metrics, "steps": float(steps), "nfe": float(nfe), "structures_per_s": len(held_out) / seconds}


def evaluate_template(train: AtomsDataset, held_out: AtomsDataset) -> dict[str, float]:
    """CSP metrics of the template-substitution baseline on ``held_out``."""
    baseline = TemplateBaseline(train)
    counts = held_out.num_atoms.tolist()
    predictions = []
    for species in held_out.species.split(counts):
        guess = baseline.predict(species.tolist())
        predictions.append(Crystal(species.tolist(), None) if guess is None else
                           Crystal.from_arrays(species.tolist(), guess.frac.numpy(), guess.cell.numpy()))
    references = crystals_of(held_out.species, held_out.frac, held_out.cell, held_out.num_atoms)
    return csp_metrics(predictions, references)


def held_out_split(cfg: CrystalCSPConfig) -> AtomsDataset:
    """The val split, cut to ``max_eval`` structures."""
    held_out = load_split(cfg, "val")
    if cfg.max_eval is not None and cfg.max_eval < len(held_out):
        held_out = held_out.subset(torch.arange(cfg.max_eval))
    return held_out




def print_csp_table(rows: dict[str, dict[str, float]], title: str, console: Console | None = None) -> None:
    """A rich table of CSP metrics, one row per method."""
    table = Table(title=title)
    for column in ("method", "match rate", "RMSE", "valid", "steps", "structures/s"):
        table.add_column(column, justify="right")
    for name, row in rows.items():
        table.add_row(name, f"{100 * row['match_rate']:.1f}%", f"{row['rmse']:.4f}", f"{100 * row['valid']:.1f}%",
                      str(int(row.get("steps", 0))) if "steps" in row else "-",
                      f"{row['structures_per_s']:.1f}" if "structures_per_s" in row else "-")
    (console or Console()).print(table)


def load_trained_model(trained: TrainedWeights) -> tuple[CrystalNet, Kind, CrystalCSPConfig]:
    """Rebuild the model of a checkpoint of ``materials.crysbfn`` / ``materials.diffcsp``."""
    name, cfg, _ = task_from_dict(trained.config, str(trained.source))
    kind: Kind = "crysbfn" if name == "materials.crysbfn" else "diffcsp"
    mean, std = trained.weights["lattice_mean"], trained.weights["lattice_std"]
    return load_into(build_model(cfg, mean, std), trained).eval(), kind, cfg


def _run(kind: Kind, cfg: CrystalCSPConfig, resume: bool) -> dict[str, dict[str, float]]:
    train = load_split(cfg, "train")
    model = build_model(cfg, *lattice_statistics(train))
    processes = Processes.of(cfg)

    def loss_fn(net: nn.Module, batch: AtomsBatch, generator: torch.Generator) -> tuple[Tensor, dict]:
        if kind == "crysbfn":
            return crysbfn_loss(net, batch, generator, processes, cfg.lattice_weight, cfg.coord_loss == "uniform")
        return diffcsp_loss(net, batch, generator, processes, cfg.lattice_weight)

    data = IndexedData(list(range(len(train))), train.batch)
    trainer = Trainer(model, loss_fn, data, cfg.train, config_dict=dump_task_config(f"materials.{kind}", cfg))
    if trainer.fit(resume=resume) is None:
        return {}
    held_out = held_out_split(cfg)
    rows = {f"{kind} ({cfg.sample_steps} steps)": evaluate_csp(trainer.model, kind, cfg, held_out,
                                                               cfg.sample_steps, cfg.train.seed + 1),
            "baseline: template substitution": evaluate_template(train, held_out)}
    write_json({"dataset": cfg.dataset, "held_out": len(held_out), "csp": rows},
               Path(cfg.train.out_dir) / "metrics.json")
    print_csp_table(rows, f"CSP on {cfg.dataset} held-out ({len(held_out)} structures, one sample each)")
    return rows


@register_task("materials.crysbfn")
def run_crysbfn(cfg: CrystalCSPConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train CrysBFN for CSP, sample the held-out compositions, evaluate against the template baseline."""
    return _run("crysbfn", cfg, resume)


@register_task("materials.diffcsp")
def run_diffcsp(cfg: CrystalCSPConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train the same-size DiffCSP-style diffusion for CSP and evaluate it the same way."""
    return _run("diffcsp", cfg, resume)
