"""Scores of generated transition states against reference ones: geometry, xTB barrier error, time.

One protocol, one named calculator (GFN2-xTB): numbers from other calculators are not comparable. The
barrier error |E(gen TS) - E(ref TS)| equals the error of the barrier E(TS) - E(R), since E(R) cancels.
RMSDs are in Angstrom, energies in eV in, kcal/mol in the scores (reports only).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.geometry.kabsch import aligned_rmsd, permutation_aware_rmsd, superpose
from genforge.core.nets.edges import fully_connected_edges
from genforge.datasets.rdb7 import KCAL_PER_MOL_PER_EV

BARRIER_THRESHOLD_KCAL_PER_MOL = 1.58
"""Barrier errors below this count as hits (the fraction reported in TS-GEN / React-OT style tables)."""


@dataclass(frozen=True)
class TsScores:
    """Per-reaction scores ``[B]``: ``rmsd``, ``permutation_rmsd`` (Angstrom), ``barrier_error`` (kcal/mol,
    NaN where an xTB energy is missing), ``seconds`` (wall time to produce the TS)."""

    rmsd: Tensor
    permutation_rmsd: Tensor
    barrier_error: Tensor
    seconds: Tensor

    def summary(self) -> dict[str, float]:
        """Medians, means, the fraction of barrier errors below 1.58 kcal/mol (over reactions with both
        energies) and the number of reactions without an xTB barrier error."""
        error = self.barrier_error[torch.isfinite(self.barrier_error)]
        return {
            "reactions": float(self.rmsd.shape[0]),
            "rmsd_median": _median(self.rmsd),
            "rmsd_mean": float(self.rmsd.mean()),
            "permutation_rmsd_median": _median(self.permutation_rmsd),
            "permutation_rmsd_mean": float(self.permutation_rmsd.mean()),
            "barrier_error_median": _median(error),
            "barrier_error_mean": float(error.mean()) if error.numel() else float("nan"),
            "barrier_error_below_threshold": float((error < BARRIER_THRESHOLD_KCAL_PER_MOL).double().mean())
            if error.numel() else float("nan"),
            "barrier_missing": float(self.barrier_error.shape[0] - error.shape[0]),
            "seconds_per_ts": float(self.seconds.mean()),
        }


def _median(values: Tensor) -> float:
    """Median (mean of the two middle values for an even count; NaN when empty)."""
    return float(values.quantile(0.5)) if values.numel() else float("nan")


def permutation_rmsds(generated: Tensor, reference: Tensor, species: Tensor, batch: Tensor) -> Tensor:
    """Aligned RMSD ``[B]`` minimised over exchanges of same-element atoms, per structure of the batch."""
    counts = torch.bincount(batch)
    return torch.stack([permutation_aware_rmsd(g, r, s)[0] for g, r, s in zip(
        generated.split(counts.tolist()), reference.split(counts.tolist()), species.split(counts.tolist()),
        strict=True)])


def score_transition_states(species: Tensor, generated: Tensor, reference: Tensor, batch: Tensor, *,
                            energy_generated: Tensor, energy_reference: Tensor, seconds: Tensor) -> TsScores:
    """Score generated TS geometries of a graph batch.

    Args:
        species: ``[N]`` atomic numbers.
        generated: ``[N, 3]`` generated TS positions (Angstrom), any frame.
        reference: ``[N, 3]`` reference TS positions.
        batch: ``[N]`` sorted reaction index.
        energy_generated: ``[B]`` GFN2-xTB energies of the generated TSs (eV, NaN where missing).
        energy_reference: ``[B]`` GFN2-xTB energies of the reference TSs (eV).
        seconds: ``[B]`` wall time spent producing each TS.
    """
    return TsScores(
        rmsd=aligned_rmsd(generated, reference, batch=batch),
        permutation_rmsd=permutation_rmsds(generated, reference, species, batch),
        barrier_error=(energy_generated - energy_reference).abs() * KCAL_PER_MOL_PER_EV,
        seconds=seconds)


def reactive_atoms(species: Tensor, reactant: Tensor, product: Tensor, batch: Tensor, *, scale: float = 1.25
                   ) -> Tensor:
    """``[N]`` bool: atoms with a bond that differs between reactant and product.

    A pair (i, j) is bonded in a frame when its distance is below ``scale`` x the sum of the two covalent
    radii (ase's table, Angstrom); an atom is reactive when it takes part in a pair bonded in exactly one of
    R and P. Shapes: ``species [N]``, ``reactant``, ``product [N, 3]`` (Angstrom), ``batch [N]`` sorted.
    """
    from ase.data import covalent_radii

    sender, receiver = fully_connected_edges(batch)
    radii = torch.as_tensor(covalent_radii, dtype=reactant.dtype, device=reactant.device)[species]
    limit = scale * (radii[sender] + radii[receiver])
    bonded_r = (reactant[sender] - reactant[receiver]).norm(dim=-1) < limit
    bonded_p = (product[sender] - product[receiver]).norm(dim=-1) < limit
    reactive = torch.zeros(species.shape[0], dtype=torch.bool, device=species.device)
    reactive[receiver[bonded_r != bonded_p]] = True
    return reactive


def aligned_atom_errors(generated: Tensor, reference: Tensor, batch: Tensor) -> Tensor:
    """``[N]`` squared distance (Angstrom^2) of every atom to the reference after per-reaction Kabsch
    superposition of the whole molecule (the terms whose per-reaction mean is the squared RMSD)."""
    return (superpose(generated, reference, batch=batch) - reference).square().sum(-1)
