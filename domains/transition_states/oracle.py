"""GFN2-xTB energy and forces (Bannwarth, Ehlert & Grimme, JCTC 15, 1652, 2019) via tblite's ASE calculator.

Units: positions in Angstrom, energies in eV, forces in eV/Angstrom. The calculation runs with OpenMP
limited to ``num_threads`` (default 1): on a shared 2-core machine tblite's spinning OpenMP threads make a
5 ms single point take 0.5-2 s. A failed single point (SCF not converged, atoms too close) raises
:class:`XtbError` from :meth:`XtbOracle.single_point`; :meth:`XtbOracle.evaluate` records it and goes on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from ase import Atoms
from ase.calculators.calculator import CalculationFailed, InputError
from tblite.ase import TBLite
from threadpoolctl import threadpool_limits
from torch import Tensor


class XtbError(RuntimeError):
    """tblite could not evaluate a structure (SCF not converged, invalid geometry or input)."""


@dataclass(frozen=True)
class SinglePoint:
    """One GFN2-xTB result: ``energy`` (eV), ``forces [N, 3]`` (eV/Angstrom), wall ``seconds``."""

    energy: float
    forces: Tensor
    seconds: float


@dataclass(frozen=True)
class OracleResult:
    """Single points of a batch of structures; failed ones hold NaN and are listed in ``failures``.

    Shapes: ``energy [B]`` (eV), ``forces [N, 3]`` (eV/Angstrom), ``seconds [B]``; ``failures`` holds
    ``(structure index, message)`` pairs.
    """

    energy: Tensor
    forces: Tensor
    seconds: Tensor
    failures: tuple[tuple[int, str], ...]

    @property
    def ok(self) -> Tensor:
        """``[B]`` bool, True where the single point succeeded."""
        return torch.isfinite(self.energy)


@dataclass(frozen=True)
class XtbOracle:
    """tblite xTB calculator settings (defaults are tblite's, except one OpenMP thread)."""

    method: str = "GFN2-xTB"
    accuracy: float = 1.0
    max_iterations: int = 250
    electronic_temperature: float = 300.0
    num_threads: int = 1

    def calculator(self, *, charge: int = 0, multiplicity: int = 1) -> TBLite:
        """A fresh tblite ASE calculator with these settings (run it under ``threadpool_limits``)."""
        return TBLite(method=self.method, charge=charge, multiplicity=multiplicity, accuracy=self.accuracy,
                      max_iterations=self.max_iterations, electronic_temperature=self.electronic_temperature,
                      verbosity=0)

    def single_point(self, species: Tensor, positions: Tensor, *, charge: int = 0,
                     multiplicity: int = 1) -> SinglePoint:
        """Energy and forces of one structure (``species [N]``, ``positions [N, 3]`` Angstrom).

        Raises:
            XtbError: tblite rejected the input or its SCF did not converge.
        """
        atoms = Atoms(numbers=species.cpu().numpy(), positions=positions.detach().cpu().double().numpy())
        atoms.calc = self.calculator(charge=charge, multiplicity=multiplicity)
        start = time.perf_counter()
        with threadpool_limits(self.num_threads, user_api="openmp"):
            try:
                energy = atoms.get_potential_energy()
                forces = atoms.get_forces()
            except (CalculationFailed, InputError) as error:
                raise XtbError(str(error)) from error
        return SinglePoint(float(energy), torch.from_numpy(forces.copy()), time.perf_counter() - start)

    def evaluate(self, species: Tensor, positions: Tensor, batch: Tensor, *, charge: Tensor | None = None,
                 multiplicity: Tensor | None = None) -> OracleResult:
        """Single points of every structure of a graph batch, failures recorded rather than raised.

        Args:
            species: ``[N]`` atomic numbers.
            positions: ``[N, 3]`` Angstrom.
            batch: ``[N]`` sorted structure index.
            charge: ``[B]`` total charges (default neutral).
            multiplicity: ``[B]`` spin multiplicities 2S + 1 (default singlet).
        """
        counts = torch.bincount(batch)
        ptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)]).tolist()
        num = counts.shape[0]
        charge = torch.zeros(num, dtype=torch.long) if charge is None else charge
        multiplicity = torch.ones(num, dtype=torch.long) if multiplicity is None else multiplicity
        energy = torch.full((num,), float("nan"), dtype=torch.float64)
        forces = torch.full((positions.shape[0], 3), float("nan"), dtype=torch.float64)
        seconds = torch.zeros(num, dtype=torch.float64)
        failures = []
        for index in range(num):
            atoms = slice(ptr[index], ptr[index + 1])
            start = time.perf_counter()
            try:
                result = self.single_point(species[atoms], positions[atoms], charge=int(charge[index]),
                                           multiplicity=int(multiplicity[index]))
            except XtbError as error:
                failures.append((index, str(error)))
            else:
                energy[index], forces[atoms] = result.energy, result.forces
            seconds[index] = time.perf_counter() - start
        return OracleResult(energy, forces, seconds, tuple(failures))
