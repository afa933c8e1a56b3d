"""Task ``materials.adit_vae``: ADiT stage 1, the joint all-atom VAE on QM9 + crystals.

Trains :class:`AllAtomVAE` with the core Trainer (molecules randomly rotated every step), then reconstructs
held-out molecules and crystals from their posterior means and writes ``metrics.json``: species accuracy,
position RMSE (Angstrom), the EDM validity / stability of the reconstructed molecules next to those of the
originals, and the StructureMatcher match rate of the reconstructed crystals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from genforge.core.atomic import write_json
from genforge.core.config import dump_task_config, register_task, task_from_dict
from genforge.core.geometry.rotations import random_rotations
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.inference import TrainedWeights, load_into
from genforge.domains.materials.adit.data import (
    ADiTData,
    batch_sampler,
    label_names,
    lattice_statistics,
    load_split,
)
from genforge.domains.materials.adit.representation import AllAtoms, to_records
from genforge.domains.materials.adit.vae import AllAtomVAE, VAEConfig
from genforge.domains.materials.metrics import Crystal, csp_metrics
from genforge.domains.materials.molecule_metrics import molecule_metrics

EVAL_CHUNK = 256


@dataclass(frozen=True)
class ADiTVAEConfig:
    """Recipe of ADiT's VAE: ``data``, ``vae`` size / weights, ``eval_molecules`` / ``eval_crystals`` held-out
    structures reconstructed for the metrics, ``train`` the core trainer settings."""

    data: ADiTData = field(default_factory=ADiTData)
    vae: VAEConfig = field(default_factory=VAEConfig)
    eval_molecules: int = 500
    eval_crystals: int = 200
    train: TrainConfig = field(default_factory=TrainConfig)


def build_vae(cfg: ADiTVAEConfig, lattice_mean: Tensor, lattice_std: Tensor) -> AllAtomVAE:
    """The VAE with weights from ``cfg.train.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        return AllAtomVAE(cfg.vae, len(label_names(cfg.data)), lattice_mean, lattice_std)


def rotate_molecules(atoms: AllAtoms, generator: torch.Generator) -> AllAtoms:
    """Every structure's Cartesian positions under an independent uniform random rotation."""
    rotations = random_rotations(len(atoms), generator, dtype=atoms.pos.dtype, device=atoms.pos.device)
    return AllAtoms(atoms.species, atoms.pos @ rotations.transpose(1, 2), atoms.frac, atoms.lattice, atoms.label,
                    atoms.periodic, atoms.mask)


def vae_loss(model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator) -> tuple[Tensor, dict]:
    """Trainer loss: the VAE loss of the randomly rotated batch."""
    net = model.module if hasattr(model, "module") else model
    return net.loss(rotate_molecules(AllAtoms.from_dict(batch), generator), generator)


@torch.no_grad()
def reconstruct(vae: AllAtomVAE, atoms: AllAtoms) -> AllAtoms:
    """Decoded posterior means of ``atoms`` (in chunks)."""
    vae.eval()
    parts = []
    for start in range(0, len(atoms), EVAL_CHUNK):
        chunk = atoms.take(torch.arange(start, min(start + EVAL_CHUNK, len(atoms))), trim=False)
        mean, _ = vae.encode(chunk)
        parts.append(vae.to_atoms(vae.decode(mean, chunk.label, chunk.mask), chunk.label, chunk.periodic, chunk.mask))
    return AllAtoms.from_dict({name: torch.cat([p.as_dict()[name] for p in parts]) for name in atoms.as_dict()})


def molecules_of(atoms: AllAtoms) -> list[tuple[Tensor, Tensor]]:
    """``(species [n], pos [n, 3])`` of every molecule in ``atoms``."""
    return [(record.species, record.pos) for record in to_records(atoms) if record.cell is None]


def crystals_of(atoms: AllAtoms) -> list[Crystal]:
    """:class:`Crystal` objects of every crystal in ``atoms``."""
    return [Crystal.from_arrays(r.species.tolist(), r.frac.numpy(), r.cell.numpy())
            for r in to_records(atoms) if r.cell is not None]


def held_out(data: ADiTData, molecules: int, crystals: int, seed: int = 0) -> AllAtoms:
    """``molecules`` / ``crystals`` structures of the val split drawn at random (seeded; the split's order is
    QM9's index order, whose first molecules are smaller than average, so a prefix would be biased)."""
    val, _ = load_split(data, "val")
    generator = torch.Generator().manual_seed(seed)
    pools = [(~val.periodic).nonzero().squeeze(1), val.periodic.nonzero().squeeze(1)]
    index = torch.cat([pool[torch.randperm(pool.numel(), generator=generator)[:count]]
                       for pool, count in zip(pools, (molecules, crystals), strict=True)])
    return val.take(index)


def evaluate_vae(vae: AllAtomVAE, atoms: AllAtoms) -> dict[str, float]:
    """Reconstruction metrics of ``atoms`` (module docstring)."""
    recon = reconstruct(vae, atoms)
    mask, molecule = atoms.mask, ~atoms.periodic
    correct = recon.species == atoms.species
    metrics: dict[str, float] = {"species_accuracy": float(correct[mask].float().mean())}
    for name, kind in (("molecule", molecule), ("crystal", atoms.periodic)):
        if bool(kind.any()):
            metrics[f"{name}_species_accuracy"] = float(correct[mask & kind[:, None]].float().mean())
    if bool(molecule.any()):
        error = (recon.pos - atoms.pos).square().sum(-1)[mask & molecule[:, None]]
        metrics["molecule_pos_rmse"] = float(error.mean().sqrt())
        metrics.update({f"recon_{k}": v for k, v in molecule_metrics(molecules_of(recon)).items()})
        metrics.update({f"data_{k}": v for k, v in molecule_metrics(molecules_of(atoms)).items()})
    if bool(atoms.periodic.any()):
        csp = csp_metrics(crystals_of(recon), crystals_of(atoms))
        metrics.update({"crystal_match_rate": csp["match_rate"], "crystal_rmse": csp["rmse"]})
    return metrics




def print_metrics(metrics: dict[str, float], title: str) -> None:
    """A two-column rich table."""
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in metrics.items():
        table.add_row(name, f"{value:.4f}")
    Console().print(table)


def load_vae(trained: TrainedWeights) -> tuple[AllAtomVAE, ADiTVAEConfig]:
    """The VAE of a ``materials.adit_vae`` checkpoint."""
    _, cfg, _ = task_from_dict(trained.config, str(trained.source))
    vae = build_vae(cfg, trained.weights["lattice_mean"], trained.weights["lattice_std"])
    return load_into(vae, trained).eval(), cfg


@register_task("materials.adit_vae")
def run_adit_vae(cfg: ADiTVAEConfig, *, resume: bool = False) -> dict[str, float]:
    """Train the joint VAE, reconstruct held-out structures, write metrics.json."""
    train, _ = load_split(cfg.data, "train")
    vae = build_vae(cfg, *lattice_statistics(train))
    data = batch_sampler(train, cfg.train.batch_size, cfg.data.crystal_fraction)
    trainer = Trainer(vae, vae_loss, data, cfg.train, config_dict=dump_task_config("materials.adit_vae", cfg))
    trained = trainer.fit(resume=resume)
    if trained is None:
        return {}
    metrics = evaluate_vae(trained, held_out(cfg.data, cfg.eval_molecules, cfg.eval_crystals))
    write_json(metrics, Path(cfg.train.out_dir) / "metrics.json")
    print_metrics(metrics, "ADiT VAE reconstruction of held-out structures")
    return metrics
