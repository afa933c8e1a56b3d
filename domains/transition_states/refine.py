"""Saddle-point refinement of a TS guess with Sella (Hermes et al., JCTC 18, 6974, 2022) on GFN2-xTB.

Sella follows the lowest Hessian eigenvector uphill and all others downhill (partitioned rational function
optimisation in internal coordinates) until the largest force component is below ``fmax``. The result is
checked by finite-difference vibrational analysis (ase ``Vibrations``): a first-order saddle has exactly
one imaginary frequency; modes with |frequency| below ``imaginary_threshold`` cm^-1 are the six rigid-body
modes and numerical noise and are not counted.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass

import numpy as np
import torch
from ase import Atoms
from ase.calculators.calculator import CalculationFailed
from ase.vibrations import Vibrations
from sella import Constraints, Sella
from threadpoolctl import threadpool_limits
from torch import Tensor

from genforge.domains.transition_states.oracle import XtbOracle


@dataclass(frozen=True)
class Refinement:
    """Outcome of one refinement: final ``positions [N, 3]`` (Angstrom), ``energy`` (eV), optimiser
    ``steps``, whether forces reached ``fmax`` (``converged``), the number of imaginary frequencies, and
    whether it is a first-order saddle (converged with exactly one imaginary frequency); NaN / -1 where xTB
    or Sella failed (SCF not converged, Sella's geometry update giving up). ``imaginary_frequencies`` lists the
    counted imaginary frequencies' magnitudes (cm^-1, largest first) and ``mode [N, 3]`` is the Cartesian
    displacement of the largest one (None without one)."""

    positions: Tensor
    energy: float
    steps: int
    converged: bool
    imaginary: int
    seconds: float
    imaginary_frequencies: tuple[float, ...] = ()
    mode: Tensor | None = None

    @property
    def first_order_saddle(self) -> bool:
        return self.converged and self.imaginary == 1


def reactive_pairs(species: Tensor, reactant: Tensor, product: Tensor, *, scale: float = 1.25) -> Tensor:
    """``[K, 2]`` atom pairs bonded in exactly one of reactant and product (distance below ``scale`` x the summed
    covalent radii, as in :func:`~genforge.domains.transition_states.metrics.reactive_atoms`)."""
    from ase.data import covalent_radii

    first, second = torch.triu_indices(species.shape[0], species.shape[0], 1)
    radii = torch.as_tensor(covalent_radii, dtype=torch.float64)[species.cpu()]
    limit = scale * (radii[first] + radii[second])
    bonded_r = (reactant[first] - reactant[second]).double().cpu().norm(dim=-1) < limit
    bonded_p = (product[first] - product[second]).double().cpu().norm(dim=-1) < limit
    changed = bonded_r != bonded_p
    return torch.stack([first[changed], second[changed]], dim=-1)


def refine_saddle(species: Tensor, positions: Tensor, oracle: XtbOracle, *, charge: int = 0,
                  multiplicity: int = 1, fmax: float = 0.01, max_steps: int = 300,
                  imaginary_threshold: float = 50.0, fixed_pairs: Tensor | None = None,
                  relax_fmax: float = 0.05, relax_steps: int = 100) -> Refinement:
    """Run Sella from ``positions`` (Angstrom) and count imaginary frequencies at the end point.

    With ``fixed_pairs [K, 2]`` (e.g. :func:`reactive_pairs`) the guess is first relaxed downhill (Sella,
    order 0, to ``relax_fmax`` eV/Å or ``relax_steps`` steps) with those distances held at their guessed
    values, so that the atoms the reaction does not involve settle before the saddle search; steps and
    seconds then include the relaxation."""
    start = time.perf_counter()
    atoms = Atoms(numbers=species.cpu().numpy(), positions=positions.detach().double().cpu().numpy())
    atoms.calc = oracle.calculator(charge=charge, multiplicity=multiplicity)
    with threadpool_limits(oracle.num_threads, user_api="openmp"), tempfile.TemporaryDirectory() as scratch:
        try:
            relaxed_steps = 0
            if fixed_pairs is not None and fixed_pairs.shape[0] > 0:
                constraints = Constraints(atoms)
                for i, j in fixed_pairs.tolist():
                    constraints.fix_bond((i, j))
                relaxation = Sella(atoms, order=0, internal=True, constraints=constraints, logfile=None)
                relaxation.run(fmax=relax_fmax, steps=relax_steps)
                relaxed_steps = int(relaxation.nsteps)
            optimiser = Sella(atoms, internal=True, logfile=None)
            converged = bool(optimiser.run(fmax=fmax, steps=max_steps))
            energy = float(atoms.get_potential_energy())
            vibrations = Vibrations(atoms, name=f"{scratch}/vib")
            vibrations.run()
            frequencies = np.asarray(vibrations.get_frequencies())
            magnitudes = np.abs(frequencies.imag)
            imaginary = int((magnitudes > imaginary_threshold).sum())
            order = np.argsort(-magnitudes)[:imaginary]
            mode = torch.from_numpy(np.asarray(vibrations.get_mode(int(order[0])), dtype=np.float64).copy()
                                    ) if imaginary else None
            steps = int(optimiser.nsteps) + relaxed_steps
        except (CalculationFailed, np.linalg.LinAlgError, ValueError, RuntimeError):  # Sella gives up: RuntimeError
            return Refinement(positions, float("nan"), -1, False, -1, time.perf_counter() - start)
    return Refinement(torch.from_numpy(atoms.get_positions().copy()), energy, steps, converged, imaginary,
                      time.perf_counter() - start, tuple(float(m) for m in magnitudes[order]), mode)
