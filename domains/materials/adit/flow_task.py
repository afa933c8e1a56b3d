"""Task ``materials.adit``: ADiT stage 2, the latent DiT on a trained ``materials.adit_vae`` checkpoint.

Encodes the VAE recipe's training structures once (molecules under one seeded random rotation each,
posterior means), standardises the latents, trains the :class:`LatentFlow` with the core Trainer, then
generates molecules (QM9 label) and crystals (crystal label) and writes ``metrics.json`` and
``samples.png``: EDM molecule metrics and crystal validity next to trivial baselines, and throughput.
The checkpoint holds the VAE and the DiT, so it generates on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import torch
from rich.console import Console
from rich.table import Table
from torch import Tensor, nn

from genforge.core.config import dump_task_config, register_task, task_from_dict
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.inference import TrainedWeights, export_inference, load_into, load_trained
from genforge.domains.materials.adit import baselines
from genforge.domains.materials.adit.data import (
    CRYSTAL_LABEL,
    MAX_ATOMS,
    MOLECULE_LABEL,
    ADiTData,
    kind_sampler,
    label_names,
    load_qm9,
    load_split,
)
from genforge.domains.materials.adit.flow import ADiT, FlowConfig, LatentFlow, flow_loss, generate
from genforge.domains.materials.adit.representation import AllAtoms, concatenate, principal_frame, to_records
from genforge.domains.materials.adit.vae import AllAtomVAE
from genforge.domains.materials.adit.vae_task import (
    crystals_of,
    held_out,
    load_vae,
    molecules_of,
    reconstruct,
    rotate_molecules,
    write_json,
)
from genforge.domains.materials.crysbfn.gallery import write_gallery
from genforge.domains.materials.metrics import Crystal, generation_metrics
from genforge.domains.materials.molecule_metrics import canonical_smiles, molecule_metrics

ENCODE_CHUNK = 256
SAMPLE_CHUNK = 250


@dataclass(frozen=True)
class ADiTConfig:
    """Recipe of ADiT's latent DiT.

    Args:
        vae_ckpt: the ``materials.adit_vae`` checkpoint (its recipe's data is used here too).
        frame: orientation of the molecules whose latents the DiT learns: ``principal`` (principal-axes frame,
            one orientation per molecule up to symmetry) or ``random`` (one random rotation each).
        crystal_fraction: share of crystal batches (default: the VAE recipe's).
        flow: DiT size, label dropout, self-conditioning probability.
        sample_steps: Euler steps at evaluation; cfg_scale: classifier-free guidance scale (1 = off).
        eval_molecules, eval_crystals: structures generated for the metrics.
        train: core trainer settings.
    """

    vae_ckpt: Path = Path("runs/materials/adit_vae/last.pt")
    frame: Literal["principal", "random"] = "principal"
    crystal_fraction: float | None = None
    flow: FlowConfig = field(default_factory=FlowConfig)
    sample_steps: int = 100
    cfg_scale: float = 2.0
    eval_molecules: int = 1000
    eval_crystals: int = 200
    train: TrainConfig = field(default_factory=TrainConfig)


@torch.no_grad()
def encode_dataset(vae: AllAtomVAE, atoms: AllAtoms, frame: str, generator: torch.Generator) -> Tensor:
    """Posterior means ``[M, L, D]`` of ``atoms`` in chunks, each structure's Cartesian positions first put in
    its principal-axes frame (``frame="principal"``) or under one random rotation (``"random"``)."""
    parts = []
    for start in range(0, len(atoms), ENCODE_CHUNK):
        chunk = atoms.take(torch.arange(start, min(start + ENCODE_CHUNK, len(atoms))), trim=False)
        if frame == "principal":
            chunk = replace(chunk, pos=principal_frame(chunk.pos, chunk.mask))
        else:
            chunk = rotate_molecules(chunk, generator)
        parts.append(vae.encode(chunk)[0])
    return torch.cat(parts)


def build_adit(cfg: ADiTConfig, vae: AllAtomVAE, num_labels: int) -> ADiT:
    """The joint model around ``vae``; the DiT's weights from ``cfg.train.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.train.seed)
        flow = LatentFlow(cfg.flow, vae.cfg.latent_dim, num_labels, MAX_ATOMS)
    periodic = torch.tensor([label == CRYSTAL_LABEL for label in range(num_labels)])
    return ADiT(vae, flow, periodic)


def fit_statistics(flow: LatentFlow, z: Tensor, atoms: AllAtoms) -> None:
    """Latent mean / std per channel over real atoms and the per-label atom-count histograms."""
    real = z[atoms.mask]
    flow.latent_mean.copy_(real.mean(0))
    flow.latent_std.copy_(real.std(0).clamp_min(1e-3))
    for label in range(flow.num_labels):
        counts = atoms.num_atoms[atoms.label == label]
        flow.atom_counts[label] = torch.bincount(counts, minlength=flow.atom_counts.shape[1]).float()
        if counts.numel() == 0:
            flow.atom_counts[label, 1] = 1.0


def load_adit(trained: TrainedWeights) -> tuple[ADiT, ADiTConfig, ADiTData]:
    """The joint model of a ``materials.adit`` checkpoint (the VAE rebuilt from the config it stores)."""
    config = dict(trained.config)
    _, vae_recipe, _ = task_from_dict(config.pop("vae_recipe"), str(trained.source))
    _, cfg, _ = task_from_dict(config, str(trained.source))
    vae = AllAtomVAE(vae_recipe.vae, len(label_names(vae_recipe.data)), trained.weights["vae.lattice_mean"],
                     trained.weights["vae.lattice_std"])
    model = load_into(build_adit(cfg, vae, len(label_names(vae_recipe.data))), trained)
    return model.eval(), cfg, vae_recipe.data


@torch.no_grad()
def generate_many(model: ADiT, label: int, num: int, cfg: ADiTConfig, seed: int) -> tuple[AllAtoms, float]:
    """``num`` structures of ``label`` in chunks, and structures per second."""
    generator = torch.Generator().manual_seed(seed)
    begin = time.perf_counter()
    parts = [generate(model, torch.full((min(SAMPLE_CHUNK, num - start),), label, dtype=torch.long),
                      cfg.sample_steps, cfg.cfg_scale, generator) for start in range(0, num, SAMPLE_CHUNK)]
    return concatenate(parts), num / (time.perf_counter() - begin)


def training_smiles(data: ADiTData) -> set[str] | None:
    """Canonical SMILES of the QM9 training molecules (EDM's whole train split, or the recipe's CSV)."""
    molecules = load_qm9(replace(data, qm9_molecules=None), "train")
    return None if molecules is None else canonical_smiles(molecules.strings["smiles"])


def crystal_rows(samples: AllAtoms, references: list[Crystal]) -> dict[str, float]:
    """Crystal generation metrics (validity, density / #elements W1, uniqueness) of ``samples``."""
    return generation_metrics(crystals_of(samples), references)


def evaluate(model: ADiT, cfg: ADiTConfig, data: ADiTData, train: AllAtoms, out_dir: Path
             ) -> dict[str, dict[str, dict[str, float]]]:
    """Molecule and crystal metrics of the model and of the trivial baselines (module docstring)."""
    seed = cfg.train.seed + 1
    generator = torch.Generator().manual_seed(seed)
    val = held_out(data, cfg.eval_molecules, cfg.eval_crystals)
    report: dict[str, dict[str, dict[str, float]]] = {"molecules": {}, "crystals": {}}
    gallery = []
    steps = f"Euler {cfg.sample_steps} steps, CFG {cfg.cfg_scale:g}"
    if bool((~train.periodic).any()) and cfg.eval_molecules:
        smiles = training_smiles(data)
        rms = float((reconstruct(model.vae, val).pos - val.pos).square().sum(-1)[val.mask & ~val.periodic[:, None]]
                    .mean().sqrt())
        samples, rate = generate_many(model, MOLECULE_LABEL, cfg.eval_molecules, cfg, seed)
        gallery += to_records(samples.take(torch.arange(min(18, len(samples)))), "molecule")
        candidates = {
            f"ADiT ({steps})": samples,
            f"baseline: training geometry + jitter (RMS {rms:.3f} A)": baselines.jittered_training(
                train, cfg.eval_molecules, rms, generator),
            "baseline: empirical atoms, Gaussian positions": baselines.empirical_atoms(train, cfg.eval_molecules,
                                                                                      generator),
            "reference: held-out QM9": val.take((~val.periodic).nonzero().squeeze(1)),
        }
        report["molecules"] = {name: molecule_metrics(molecules_of(atoms), smiles)
                               for name, atoms in candidates.items()}
        report["molecules"][f"ADiT ({steps})"]["samples_per_s"] = rate
    if bool(train.periodic.any()) and cfg.eval_crystals:
        references = crystals_of(val.take(val.periodic.nonzero().squeeze(1)))
        samples, rate = generate_many(model, CRYSTAL_LABEL, cfg.eval_crystals, cfg, seed + 1)
        gallery += to_records(samples.take(torch.arange(min(18, len(samples)))), "crystal")
        report["crystals"] = {
            f"ADiT ({steps})": {**crystal_rows(samples, references), "samples_per_s": rate},
            "baseline: training crystal, random coordinates": crystal_rows(
                baselines.random_coordinates(train, cfg.eval_crystals, generator), references),
        }
    if gallery:
        write_gallery(gallery, out_dir / "samples.png", columns=6, limit=36)
    write_json(report, out_dir / "metrics.json")
    return report


def print_report(report: dict[str, dict[str, dict[str, float]]], console: Console | None = None) -> None:
    """One rich table per structure kind, one row per generator."""
    for kind, rows in report.items():
        if not rows:
            continue
        columns = list(dict.fromkeys(column for row in rows.values() for column in row))
        table = Table(title=f"ADiT {kind}")
        table.add_column("generator")
        for column in columns:
            table.add_column(column, justify="right")
        for name, row in rows.items():
            table.add_row(name, *(f"{row[c]:.3f}" if c in row else "-" for c in columns))
        (console or Console()).print(table)


def adit_loss(model: nn.Module, batch: dict[str, Tensor], generator: torch.Generator, cfg: FlowConfig) -> Tensor:
    """Trainer loss: flow matching on the batch's normalised latents."""
    net = model.module if hasattr(model, "module") else model
    return flow_loss(net.flow, batch["z"], batch["mask"], batch["label"], generator, net.flow.num_labels, cfg)


@register_task("materials.adit")
def run_adit(cfg: ADiTConfig, *, resume: bool = False) -> dict[str, dict[str, dict[str, float]]]:
    """Train the latent DiT on the VAE's latents, generate molecules and crystals, evaluate vs baselines."""
    trained_vae = load_trained(cfg.vae_ckpt)
    vae, vae_recipe = load_vae(trained_vae)
    data = vae_recipe.data
    train, _ = load_split(data, "train")
    model = build_adit(cfg, vae, len(label_names(data)))
    z = encode_dataset(vae, train, cfg.frame, torch.Generator().manual_seed(cfg.train.seed))
    fit_statistics(model.flow, z, train)
    tensors = {"z": model.flow.normalise(z) * train.mask.unsqueeze(-1), "mask": train.mask, "label": train.label}
    fraction = data.crystal_fraction if cfg.crystal_fraction is None else cfg.crystal_fraction
    batches = kind_sampler(tensors, train.periodic, train.mask, cfg.train.batch_size, fraction)
    config = {**dump_task_config("materials.adit", cfg), "vae_recipe": trained_vae.config}
    trainer = Trainer(model, lambda m, b, g: adit_loss(m, b, g, cfg.flow), batches, cfg.train, config_dict=config)
    fitted = trainer.fit(resume=resume)
    if fitted is None:
        return {}
    report = evaluate(fitted, cfg, data, train, Path(cfg.train.out_dir))
    print_report(report)
    return report


MOLECULE_COLUMNS = ("validity", "uniqueness", "valid_unique", "novelty", "atom_stability", "mol_stability",
                    "samples_per_s")
CRYSTAL_COLUMNS = ("struct_valid", "comp_valid", "valid", "unique", "wdist_density", "wdist_num_elems",
                   "samples_per_s")


def report_markdown(report: dict[str, dict[str, dict[str, float]]]) -> str:
    """Markdown tables (molecules, crystals) of an :func:`evaluate` report; rates in %."""
    parts = []
    for kind, columns in (("molecules", MOLECULE_COLUMNS), ("crystals", CRYSTAL_COLUMNS)):
        rows = report.get(kind) or {}
        if not rows:
            continue
        lines = [f"| {kind} | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for name, row in rows.items():
            cells = ["-" if column not in row else f"{row[column]:.2f}" if column.startswith(("samples", "wdist"))
                     else f"{100 * row[column]:.1f}%" for column in columns]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def export_half(trained: TrainedWeights, path: Path, metrics: dict | None = None) -> Path:
    """A slim checkpoint of ``trained`` with float16 floating-point tensors (half the size; loading casts the
    weights back to float32)."""
    weights = {k: v.half() if v.is_floating_point() else v for k, v in trained.weights.items()}
    return export_inference(replace(trained, weights=weights), path, metrics)
