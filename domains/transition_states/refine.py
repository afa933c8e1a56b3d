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
from sella import Sella
from threadpoolctl import threadpool_limits
from torch import Tensor

from genforge.domains.transition_states.oracle import XtbOracle


@dataclass(frozen=True)
class Refinement:
    """Outcome of one refinement: final ``positions [N, 3]`` (Angstrom), ``energy`` (eV), optimiser
    ``steps``, whether forces reached ``fmax`` (``converged``), the number of imaginary frequencies, and
    whether it is a first-order saddle (converged with exactly one imaginary frequency); NaN / -1 where xTB
    or Sella failed (SCF not converged, Sella's geometry update giving up)."""

    positions: Tensor
    energy: float
    steps: int
    converged: bool
    imaginary: int
    seconds: float

    @property
    def first_order_saddle(self) -> bool:
        return self.converged and self.imaginary == 1


def refine_saddle(species: Tensor, positions: Tensor, oracle: XtbOracle, *, charge: int = 0,
                  multiplicity: int = 1, fmax: float = 0.01, max_steps: int = 300,
                  imaginary_threshold: float = 50.0) -> Refinement:
    """Run Sella from ``positions`` (Angstrom) and count imaginary frequencies at the end point."""
    start = time.perf_counter()
    atoms = Atoms(numbers=species.cpu().numpy(), positions=positions.detach().double().cpu().numpy())
    atoms.calc = oracle.calculator(charge=charge, multiplicity=multiplicity)
    with threadpool_limits(oracle.num_threads, user_api="openmp"), tempfile.TemporaryDirectory() as scratch:
        try:
            optimiser = Sella(atoms, internal=True, logfile=None)
            converged = bool(optimiser.run(fmax=fmax, steps=max_steps))
            energy = float(atoms.get_potential_energy())
            vibrations = Vibrations(atoms, name=f"{scratch}/vib")
            vibrations.run()
            frequencies = np.asarray(vibrations.get_frequencies())
            imaginary = int((np.abs(frequencies.imag) > imaginary_threshold).sum())
            steps = int(optimiser.nsteps)
        except (CalculationFailed, np.linalg.LinAlgError, ValueError, RuntimeError):  # Sella gives up: RuntimeError
            return Refinement(positions, float("nan"), -1, False, -1, time.perf_counter() - start)
    return Refinement(torch.from_numpy(atoms.get_positions().copy()), energy, steps, converged, imaginary,
                      time.perf_counter() - start)
