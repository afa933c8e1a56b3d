r"""Task ``materials.crysbfn_gen``: de novo crystal generation with CrysBFN (Wu et al. 2025).

Three Bayesian flows at one shared time per crystal, one network (:class:`CrystalGenNet`):

* species: discrete BFN (:class:`DiscreteBFN`, accuracy beta_types s^2) over the training vocabulary;
  continuous-time loss K beta s ||e_x - e_hat||^2 divided by its mean weight K beta / 2;
* fractional coordinates: the periodic von Mises flow of :mod:`...crysbfn.task` (same loss options);
* lattice: the Gaussian BFN on the normalised (log lengths, angles).

The number of atoms of a generated crystal is drawn from the training distribution (kept in the model).
Evaluation (``metrics.json``): ``num_samples`` crystals against the held-out split with the reference
generation metrics (validity, W1 of density and #elements, uniqueness, novelty vs train, COV-R/P), next to
two trivial baselines: the training structures themselves (a ceiling: real crystals, novelty 0) and
training species + lattices with uniformly random coordinates (a floor).
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
from genforge.core.config import dump_task_config, register_task, task_from_dict
from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.gaussian import VPCosine
from genforge.core.processes.periodic import VonMisesBFN, WrappedNormalTorus
from genforge.core.solvers.crystal import species_lattice_periodic_bfn
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.data import IndexedData
from genforge.core.train.inference import TrainedWeights, load_into
from genforge.datasets.atoms_dataset import AtomsDataset
from genforge.datasets.batch import AtomsBatch
from genforge.datasets.crystals import load_crystals
from genforge.domains.materials.crysbfn.gen_model import CrystalGenNet
from genforge.domains.materials.crysbfn.model import LATTICE_DIM
from genforge.domains.materials.crysbfn.task import (
    SAMPLE_CHUNK,
    CrystalNetConfig,
    Processes,
    crystals_of,
    lattice_statistics,
    write_json,
)
from genforge.domains.materials.metrics import Crystal, generation_metrics

PAD_ELEMENT = 0
"""Placeholder class that pads a one-element vocabulary (carbon_24) to the discrete BFN's K >= 2."""


@dataclass(frozen=True)
class CrystalGenConfig:
    """Recipe of de novo CrysBFN.

    Args:
        dataset, data_root, val_fraction: as :class:`~...crysbfn.task.CrystalCSPConfig`.
        net: the network size.
        beta_1: final von Mises accuracy of the coordinates (radians^-2).
        flow_steps: n of the simulated periodic flow and of the training time grid.
        sigma_1: lattice BFN final standard deviation (normalised units).
        beta_types: final accuracy of the species discrete BFN (CrysBFN: 0.5 on MP-20).
        coord_loss: ``kl`` (the paper's discrete-time weight) or ``uniform`` (equal weight at every step).
        type_weight, lattice_weight: loss weights of the species and lattice terms.
        sample_steps: sampling steps of the evaluation.
        sample_noise_scale: coordinate / lattice sender-noise scale of the sampler (1: the Bayesian flow; see
            :func:`~genforge.core.solvers.crystal.species_lattice_periodic_bfn`).
        num_samples: crystals generated for the evaluation.
        max_eval: held-out structures used as the reference (None: all).
        coverage: compute COV-R / COV-P (needs matminer; CrystalNN fingerprints take minutes).
        novelty: compute novelty against the training split (a matcher call per same-formula training crystal).
        train: core trainer settings.
    """

    dataset: str = "perov_5"
    data_root: Path | None = None
    val_fraction: float = 0.1
    net: CrystalNetConfig = field(default_factory=CrystalNetConfig)
    beta_1: float = 1000.0
    flow_steps: int = 100
    sigma_1: float = 0.01
    beta_types: float = 0.5
    coord_loss: Literal["kl", "uniform"] = "kl"
    type_weight: float = 1.0
    lattice_weight: float = 1.0
    sample_steps: int = 100
    sample_noise_scale: float = 1.0
    num_samples: int = 500
    max_eval: int | None = None
    coverage: bool = True
    novelty: bool = True
    train: TrainConfig = field(default_factory=TrainConfig)


def load_split(cfg: CrystalGenConfig, split: Literal["train", "val"]) -> AtomsDataset:
    """The recipe's dataset split (``val`` cut to ``max_eval``)."""
    data = load_crystals(cfg.dataset, split, root=cfg.data_root, val_fraction=cfg.val_fraction)
    if split == "val" and cfg.max_eval is not None and cfg.max_eval < len(data):
        data = data.subset(torch.arange(cfg.max_eval))
    return data


def vocabulary(train: AtomsDataset) -> Tensor:
    """Sorted atomic numbers of the training species ``[K]``, padded with ``PAD_ELEMENT`` to K >= 2."""
    elements = torch.unique(train.species)
    return torch.cat([elements.new_tensor([PAD_ELEMENT]), elements]) if elements.numel() < 2 else elements


def atom_count_probabilities(train: AtomsDataset) -> Tensor:
    """Empirical distribution ``[max_atoms + 1]`` of the number of atoms per training crystal."""
    counts = torch.bincount(train.num_atoms).double()
    return counts / counts.sum()


def build_model(cfg: CrystalGenConfig, elements: Tensor, atom_probs: Tensor, lattice_mean: Tensor,
                lattice_std: Tensor) -> CrystalGenNet:
    """The network (weights from ``cfg.train.seed``) with its vocabulary, atom-count law and lattice scaling."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        net = cfg.net
        return CrystalGenNet(elements, atom_probs, net.hidden, net.num_layers, net.num_frequencies, net.time_dim,
                             lattice_mean, lattice_std, beta_1=cfg.beta_1)


@dataclass(frozen=True)
class GenProcesses:
    """The three flows of one recipe."""

    types: DiscreteBFN
    coords: VonMisesBFN
    lattice: ContinuousBFN
    coord_norm: float
    lattice_norm: float

    @classmethod
    def of(cls, cfg: CrystalGenConfig, num_classes: int) -> GenProcesses:
        csp = Processes(VonMisesBFN(beta_1=cfg.beta_1, num_steps=cfg.flow_steps),
                        ContinuousBFN(sigma_1=cfg.sigma_1, prediction="x0"), WrappedNormalTorus(), VPCosine())
        return cls(DiscreteBFN(num_classes=num_classes, beta_1=cfg.beta_types), csp.coords, csp.lattice,
                   csp.coordinate_weight_norm(), csp.lattice_weight_norm())

    def type_weight_norm(self) -> float:
        """Mean over s in [0, 1] of the discrete loss weight K beta_1 s."""
        return 0.5 * self.types.num_classes * self.types.beta_1


def gen_terms(model: nn.Module, batch: AtomsBatch, t: Tensor, noises: tuple[Tensor, Tensor, Tensor],
              processes: GenProcesses, *, uniform: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """(species, coordinate, lattice) losses at times ``t [B]`` with the noises (species ``[N, K]``, sender
    ``[N, 3, n + 1]``, lattice ``[B, 6]``), each normalised by its mean weight over time."""
    net: CrystalGenNet = model.module if hasattr(model, "module") else model  # type: ignore[assignment]
    type_noise, coord_noise, lattice_noise = noises
    t_atoms = t[batch.batch]
    x_types = torch.nn.functional.one_hot(net.class_of(batch.species), net.num_classes).to(batch.frac.dtype)
    theta = processes.types.corrupt(x_types, t_atoms, type_noise)
    m, c = processes.coords.flow_parameters(batch.frac, t_atoms, coord_noise)
    lattice = net.normalise(batch.cell)
    mu = processes.lattice.corrupt(lattice, t, lattice_noise)
    logits, x_hat, lattice_hat = model("generate", theta, m, c, mu, t, batch.batch)
    types = processes.types.loss(logits, x_types, type_noise, t_atoms).mean() / processes.type_weight_norm()
    if uniform:
        coord = (1.0 - torch.cos(2.0 * math.pi * (x_hat - batch.frac))).mean()
    else:
        coord = processes.coords.loss(x_hat, batch.frac, coord_noise, t_atoms).mean() / processes.coord_norm
    lat = processes.lattice.loss(lattice_hat, lattice, lattice_noise, t).mean() / processes.lattice_norm
    return types, coord, lat


def gen_loss(model: nn.Module, batch: AtomsBatch, generator: torch.Generator, processes: GenProcesses,
             cfg: CrystalGenConfig) -> tuple[Tensor, dict[str, float]]:
    """De novo CrysBFN training loss of one batch; returns (loss, {types, coord, lattice})."""
    t = processes.coords.sample_time(batch.num_graphs, generator, device=batch.species.device)
    num_classes = processes.types.num_classes
    type_noise = torch.randn((batch.species.shape[0], num_classes), generator=generator, dtype=batch.frac.dtype,
                             device=batch.frac.device)
    coord_noise = processes.coords.sample_noise(batch.frac, generator, t[batch.batch])
    lattice_noise = torch.randn((batch.num_graphs, LATTICE_DIM), generator=generator, dtype=batch.frac.dtype,
                                device=batch.frac.device)
    types, coord, lat = gen_terms(model, batch, t, (type_noise, coord_noise, lattice_noise), processes,
                                  uniform=cfg.coord_loss == "uniform")
    loss = cfg.type_weight * types + coord + cfg.lattice_weight * lat
    return loss, {"types": float(types.detach()), "coord": float(coord.detach()), "lattice": float(lat.detach())}


@torch.no_grad()
def generate_crystals(model: CrystalGenNet, cfg: CrystalGenConfig, num: int, steps: int, seed: int, *,
                      progress: bool = False, noise_scale: float | None = None
                      ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``num`` crystals: (species ``[N]`` atomic numbers, frac ``[N, 3]``, cells ``[num, 3, 3]`` Angstrom,
    atom counts ``[num]`` drawn from the training distribution), sampled in chunks of ``SAMPLE_CHUNK``
    (sender noise scaled by ``noise_scale``, default ``cfg.sample_noise_scale``)."""
    model.eval()
    processes = GenProcesses.of(cfg, model.num_classes)
    generator = torch.Generator().manual_seed(seed)
    num_atoms = torch.multinomial(model.atom_probs.double(), num, replacement=True, generator=generator)
    species, fracs, cells = [], [], []
    chunks = range(0, num, SAMPLE_CHUNK)
    for start in track(chunks, description=f"crysbfn de novo {steps} steps", disable=not progress):
        counts = num_atoms[start:start + SAMPLE_CHUNK]
        batch = torch.repeat_interleave(torch.arange(counts.shape[0]), counts)

        def network(theta: Tensor, m: Tensor, c: Tensor, mu: Tensor, t: Tensor,
                    batch: Tensor = batch) -> tuple[Tensor, Tensor, Tensor]:
            return model.generate(theta, m, c, mu, t, batch)

        classes, frac, lattice = species_lattice_periodic_bfn(
            network, processes.types, processes.coords, processes.lattice, int(counts.sum()), counts.shape[0],
            LATTICE_DIM, grids.uniform(steps), generator=generator,
            noise_scale=cfg.sample_noise_scale if noise_scale is None else noise_scale)
        species.append(model.elements[classes])
        fracs.append(frac)
        cells.append(model.denormalise(lattice))
    return torch.cat(species), torch.cat(fracs), torch.cat(cells), num_atoms


def baseline_crystals(train: AtomsDataset, num: int, seed: int, *, random_coordinates: bool) -> list[Crystal]:
    """``num`` random training crystals, as they are (ceiling) or with uniform random coordinates (floor)."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(0, len(train), (num,), generator=generator)
    chosen = train.subset(picks)
    frac = torch.rand(chosen.frac.shape, generator=generator, dtype=chosen.frac.dtype) if random_coordinates \
        else chosen.frac
    return crystals_of(chosen.species, frac, chosen.cell, chosen.num_atoms)


def evaluate_generation(samples: list[Crystal], held_out: AtomsDataset, train: AtomsDataset | None, dataset: str,
                        coverage: bool) -> dict[str, float]:
    """Reference generation metrics of ``samples`` vs ``held_out`` (novelty vs ``train`` unless None)."""
    import importlib.util
    import warnings

    references = crystals_of(held_out.species, held_out.frac, held_out.cell, held_out.num_atoms)
    train_crystals = [] if train is None else crystals_of(train.species, train.frac, train.cell, train.num_atoms)
    use_cov = coverage and importlib.util.find_spec("matminer") is not None
    with warnings.catch_warnings():  # pymatgen / matminer warn on every site without oxidation states
        warnings.simplefilter("ignore")
        return generation_metrics(samples, references, train=train_crystals, dataset=dataset if use_cov else None)


GEN_COLUMNS = ("struct_valid", "comp_valid", "valid", "cov_recall", "cov_precision", "wdist_density",
               "wdist_num_elems", "unique", "novel")


def print_gen_table(rows: dict[str, dict[str, float]], title: str, console: Console | None = None) -> None:
    """A rich table of generation metrics, one row per method."""
    table = Table(title=title)
    table.add_column("method")
    for column in GEN_COLUMNS:
        table.add_column(column, justify="right")
    for name, row in rows.items():
        table.add_row(name, *(f"{row[c]:.3f}" if c in row else "-" for c in GEN_COLUMNS))
    (console or Console()).print(table)


def load_trained_gen_model(trained: TrainedWeights) -> tuple[CrystalGenNet, CrystalGenConfig]:
    """Rebuild the model of a ``materials.crysbfn_gen`` checkpoint."""
    _, cfg, _ = task_from_dict(trained.config, str(trained.source))
    w = trained.weights
    model = build_model(cfg, w["elements"], w["atom_probs"], w["lattice_mean"], w["lattice_std"])
    return load_into(model, trained).eval(), cfg


@register_task("materials.crysbfn_gen")
def run_crysbfn_gen(cfg: CrystalGenConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train de novo CrysBFN, generate ``num_samples`` crystals, evaluate them against the trivial baselines."""
    train = load_split(cfg, "train")
    elements = vocabulary(train)
    model = build_model(cfg, elements, atom_count_probabilities(train), *lattice_statistics(train))
    processes = GenProcesses.of(cfg, elements.numel())

    def loss_fn(net: nn.Module, batch: AtomsBatch, generator: torch.Generator) -> tuple[Tensor, dict]:
        return gen_loss(net, batch, generator, processes, cfg)

    data = IndexedData(list(range(len(train))), train.batch)
    trainer = Trainer(model, loss_fn, data, cfg.train, config_dict=dump_task_config("materials.crysbfn_gen", cfg))
    trained = trainer.fit(resume=resume)
    if trained is None:
        return {}
    held_out = load_split(cfg, "val")
    begin = time.perf_counter()
    species, frac, cell, num_atoms = generate_crystals(trained, cfg, cfg.num_samples, cfg.sample_steps,
                                                       cfg.train.seed + 1, progress=cfg.train.progress)
    seconds = time.perf_counter() - begin
    samples = crystals_of(species, frac, cell, num_atoms)
    name = f"crysbfn ({cfg.sample_steps} steps)"
    novelty_train = train if cfg.novelty else None
    rows = {name: {**evaluate_generation(samples, held_out, novelty_train, cfg.dataset, cfg.coverage),
                   "structures_per_s": cfg.num_samples / seconds}}
    for label, random_coordinates in (("baseline: training structures (ceiling)", False),
                                      ("baseline: training cells, random coordinates", True)):
        crystals = baseline_crystals(train, cfg.num_samples, cfg.train.seed + 2, random_coordinates=random_coordinates)
        rows[label] = evaluate_generation(crystals, held_out, novelty_train, cfg.dataset, cfg.coverage)
    write_json({"dataset": cfg.dataset, "held_out": len(held_out), "num_samples": cfg.num_samples, "generation": rows},
               Path(cfg.train.out_dir) / "metrics.json")
    print_gen_table(rows, f"De novo generation on {cfg.dataset} ({cfg.num_samples} samples vs {len(held_out)} "
                          "held-out)")
    return rows
