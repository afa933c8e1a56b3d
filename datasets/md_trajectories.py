"""Molecular-dynamics trajectories of a small molecule on GFN2-xTB (tblite), as MD17-style forecasting data.

Each run starts from an RDKit ETKDG conformer (MMFF-relaxed, seed = run seed), draws Maxwell-Boltzmann
velocities at ``temperature``, runs ``equilibration_steps`` of Langevin dynamics (ASE) on the GFN2-xTB potential
(not saved), then integrates the saved part either with the same Langevin thermostat (``ensemble="langevin"``)
or with velocity Verlet at constant energy (``ensemble="nve"``, deterministic given the state, like MD17's
trajectories once thermalised); every ``sample_every``-th step is saved. Runs are independent (different
conformer and velocity seeds), so a split by run is a clean train / held-out split. Positions in Angstrom,
energies in eV, time step in fs.

Results are cached in ``~/.cache/genforge/md`` under the hash of all parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
from rich.progress import Progress
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.simulation_cache import cached_simulation

MOLECULES = {"ethanol": "CCO", "malonaldehyde": "O=CCC=O", "aspirin": "CC(=O)Oc1ccccc1C(=O)O"}
_CACHE_FORMAT = 2


@dataclass(frozen=True)
class MDConfig:
    """Parameters of the MD runs.

    Args:
        molecule: a name in ``MOLECULES`` or a SMILES string.
        temperature: Langevin bath and initial-velocity temperature (K).
        timestep: integration step (fs).
        friction: Langevin friction (1/fs).
        steps: integration steps per run (saved part).
        sample_every: steps between saved frames.
        ensemble: ``langevin`` (thermostatted, stochastic) or ``nve`` (velocity Verlet, energy conserved) for
            the saved part.
        equilibration_steps: Langevin steps at ``temperature`` before the saved part (not saved).
    """

    molecule: str = "ethanol"
    temperature: float = 500.0
    timestep: float = 0.5
    friction: float = 0.01
    steps: int = 2000
    sample_every: int = 10
    ensemble: Literal["langevin", "nve"] = "langevin"
    equilibration_steps: int = 0


@dataclass(frozen=True)
class MDData:
    """Saved frames of several runs: ``pos [R, T, N, 3]`` (Angstrom), ``energy [R, T]`` (eV, potential),
    ``kinetic [R, T]`` (eV), ``species [N]`` (atomic numbers)."""

    pos: Tensor
    energy: Tensor
    kinetic: Tensor
    species: Tensor


def smiles_of(molecule: str) -> str:
    """SMILES of a named molecule (or the argument itself if it already is one)."""
    return MOLECULES.get(molecule, molecule)


def start_geometry(molecule: str, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(atomic numbers ``[N]``, positions ``[N, 3]``) of an MMFF-relaxed ETKDG conformer with hydrogens."""
    from rdkit import Chem
    from rdkit.Chem import AllChem

    mol = Chem.MolFromSmiles(smiles_of(molecule))
    if mol is None:
        raise DataError(f"cannot parse SMILES {smiles_of(molecule)!r}", field="molecule")
    mol = Chem.AddHs(mol)
    if AllChem.EmbedMolecule(mol, randomSeed=seed) != 0:
        raise DataError(f"RDKit could not embed {molecule!r}", field="molecule")
    AllChem.MMFFOptimizeMolecule(mol)
    numbers = np.array([atom.GetAtomicNum() for atom in mol.GetAtoms()])
    return numbers, mol.GetConformer().GetPositions()


def xtb_calculator():  # type: ignore[no-untyped-def]
    """A quiet GFN2-xTB ASE calculator (tblite)."""
    from tblite.ase import TBLite

    return TBLite(method="GFN2-xTB", verbosity=0)


def run_md(cfg: MDConfig, seed: int, progress: Progress | None = None, task: int | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One run: (numbers ``[N]``, saved positions ``[T, N, 3]``, potential and kinetic energies ``[T]``, eV)."""
    from ase import Atoms, units
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary, ZeroRotation
    from ase.md.verlet import VelocityVerlet

    numbers, positions = start_geometry(cfg.molecule, seed)
    atoms = Atoms(numbers=numbers, positions=positions)
    atoms.set_constraint(FixCom())
    atoms.calc = xtb_calculator()
    rng = np.random.default_rng(seed)
    MaxwellBoltzmannDistribution(atoms, temperature_K=cfg.temperature, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    thermostat = Langevin(atoms, cfg.timestep * units.fs, temperature_K=cfg.temperature,
                          friction=cfg.friction / units.fs, rng=rng, fixcm=False)
    if cfg.equilibration_steps:
        thermostat.run(cfg.equilibration_steps)
    dynamics = thermostat if cfg.ensemble == "langevin" else VelocityVerlet(atoms, cfg.timestep * units.fs)
    frames, energies, kinetic = [], [], []

    def record() -> None:
        frames.append(atoms.get_positions().copy())
        energies.append(atoms.get_potential_energy())
        kinetic.append(atoms.get_kinetic_energy())
        if progress is not None and task is not None:
            progress.advance(task, cfg.sample_every)

    dynamics.attach(record, interval=cfg.sample_every)
    dynamics.run(cfg.steps)
    return numbers, np.stack(frames[1:]), np.array(energies[1:]), np.array(kinetic[1:])


def simulate_md(num_runs: int, seed: int, cfg: MDConfig = MDConfig(), *, show_progress: bool = True) -> MDData:
    """``num_runs`` independent runs with seeds ``seed, seed + 1, ...``."""
    if num_runs < 1:
        raise DataError(f"must be >= 1, got {num_runs}", field="num_runs")
    if cfg.ensemble not in ("langevin", "nve"):
        raise DataError(f"must be 'langevin' or 'nve', got {cfg.ensemble!r}", field="ensemble")
    runs = []
    with Progress(disable=not show_progress, transient=True) as progress:
        task = progress.add_task(f"xTB MD of {cfg.molecule} ({num_runs} runs)", total=num_runs * cfg.steps)
        for run in range(num_runs):
            runs.append(run_md(cfg, seed + run, progress, task))
    numbers = runs[0][0]
    pos = torch.tensor(np.stack([r[1] for r in runs]), dtype=torch.float32)
    energy, kinetic = (torch.tensor(np.stack([r[k] for r in runs]), dtype=torch.float64) for k in (2, 3))
    return MDData(pos, energy, kinetic, torch.tensor(numbers, dtype=torch.long))


def load_md(num_runs: int, seed: int, cfg: MDConfig = MDConfig(), *, show_progress: bool = True) -> MDData:
    """:func:`simulate_md`, cached on disk under the hash of its arguments."""
    key = {"format": _CACHE_FORMAT, "runs": num_runs, "seed": seed, **asdict(cfg)}
    payload = cached_simulation("md", cfg.molecule, key,
                                lambda: vars(simulate_md(num_runs, seed, cfg, show_progress=show_progress)))
    return MDData(payload["pos"], payload["energy"], payload["kinetic"], payload["species"])
