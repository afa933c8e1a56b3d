r"""Molecule metrics with the EDM protocol (Hoogeboom et al. 2022, ``qm9/analyze.py``, ``qm9/bond_analyze.py``).

* Bonds from interatomic distances: a pair at distance d (pm) has order 1 if d < b1 + 10, 2 if also
  d < b2 + 5, 3 if also d < b3 + 3, where b1 / b2 / b3 are EDM's single / double / triple bond lengths of
  the element pair (0 where the table has no entry).
* Atom stability: the sum of an atom's bond orders equals its allowed valence (H 1, C 4, N 3, O 2, F 1;
  P 3 or 5, S 4, Cl / Br / I 1, ...); molecule stability: every atom of the molecule is stable.
* Validity: the RDKit molecule built from those bonds sanitises and so does its largest fragment
  (``Chem.SanitizeMol``; implicit hydrogens fill under-bonded atoms, so only over-bonded atoms or
  impossible aromaticity fail); its canonical SMILES (hydrogens implicit, so that it compares with the
  training SMILES) is the molecule's identity.
* Uniqueness: distinct SMILES among the valid molecules / valid molecules; novelty: unique SMILES not in
  the training set / unique SMILES.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from rdkit import Chem, RDLogger
from torch import Tensor

BONDS1 = {
    "H": {"H": 74, "C": 109, "N": 101, "O": 96, "F": 92, "B": 119, "Si": 148, "P": 144, "As": 152, "S": 134,
          "Cl": 127, "Br": 141, "I": 161},
    "C": {"C": 154, "N": 147, "O": 143, "F": 135, "Si": 185, "P": 184, "S": 182, "Cl": 177, "Br": 194, "I": 214},
    "N": {"N": 145, "O": 140, "F": 136, "Cl": 175, "Br": 214, "S": 168, "I": 222, "P": 177},
    "O": {"O": 148, "F": 142, "Br": 172, "S": 151, "P": 163, "Si": 163, "Cl": 164, "I": 194},
    "F": {"F": 142, "S": 158, "Si": 160, "Cl": 166, "Br": 178, "P": 156, "I": 187},
    "B": {"Cl": 175},
    "Si": {"Si": 233, "S": 200, "Cl": 202, "Br": 215, "I": 243},
    "Cl": {"Cl": 199, "P": 203, "S": 207, "Br": 214},
    "S": {"S": 204, "Br": 225, "P": 210, "I": 234},
    "Br": {"Br": 228, "P": 222},
    "P": {"P": 221},
    "I": {"I": 266},
}
"""EDM's single-bond lengths (pm); symmetric, each pair listed once."""
BONDS2 = {"C": {"C": 134, "N": 129, "O": 120, "S": 160}, "N": {"N": 125, "O": 121}, "O": {"O": 121, "P": 150},
          "P": {"S": 186}}
"""EDM's double-bond lengths (pm)."""
BONDS3 = {"C": {"C": 120, "N": 116, "O": 113}, "N": {"N": 110}}
"""EDM's triple-bond lengths (pm)."""
MARGINS = (10.0, 5.0, 3.0)
"""EDM's margins (pm) added to the single / double / triple bond lengths."""
ALLOWED_VALENCE: dict[str, tuple[int, ...]] = {
    "H": (1,), "C": (4,), "N": (3,), "O": (2,), "F": (1,), "B": (3,), "Al": (3,), "Si": (4,), "P": (3, 5),
    "S": (4,), "Cl": (1,), "As": (3,), "Br": (1,), "I": (1,), "Hg": (1, 2), "Bi": (3, 5)}
"""EDM's allowed total bond orders per element."""
MAX_Z = 119
BOND_TYPES = (None, Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE)
_PERIODIC = Chem.GetPeriodicTable()


def _table(bonds: dict[str, dict[str, int]]) -> Tensor:
    """``[119, 119]`` symmetric bond lengths in pm (-inf where the pair has none)."""
    table = torch.full((MAX_Z, MAX_Z), float("-inf"), dtype=torch.float64)
    for first, row in bonds.items():
        for second, length in row.items():
            i, j = _PERIODIC.GetAtomicNumber(first), _PERIODIC.GetAtomicNumber(second)
            table[i, j] = table[j, i] = length
    return table


THRESHOLDS = torch.stack([_table(bonds) + margin for bonds, margin in zip((BONDS1, BONDS2, BONDS3), MARGINS,
                                                                          strict=True)])
"""``[3, 119, 119]``: distance (pm) below which a pair has at least a single / double / triple bond."""
VALENCE = torch.zeros(MAX_Z, 2, dtype=torch.long) - 1
for _symbol, _valences in ALLOWED_VALENCE.items():
    VALENCE[_PERIODIC.GetAtomicNumber(_symbol), :len(_valences)] = torch.tensor(_valences)
    VALENCE[_PERIODIC.GetAtomicNumber(_symbol), len(_valences):] = _valences[0]
"""``[119, 2]``: the (up to two) allowed valences of each element; -1 for elements without one."""


def bond_orders(species: Tensor, pos: Tensor) -> Tensor:
    """EDM bond orders ``[n, n]`` (0-3, zero diagonal) of one molecule: ``species [n]``, ``pos [n, 3]`` Angstrom."""
    z = species.long().clamp(0, MAX_Z - 1)
    distance = 100.0 * torch.cdist(pos.double(), pos.double())
    thresholds = THRESHOLDS[:, z[:, None], z[None, :]]
    below = distance.unsqueeze(0) < thresholds
    order = below[0].long() * (1 + below[1].long() * (1 + below[2].long()))
    return order.fill_diagonal_(0)


def atom_stable(species: Tensor, orders: Tensor) -> Tensor:
    """``[n]`` bool: each atom's summed bond order is one of its element's allowed valences."""
    total = orders.sum(dim=1)
    allowed = VALENCE[species.long().clamp(0, MAX_Z - 1)]
    return (total[:, None] == allowed).any(dim=1) & (allowed[:, 0] >= 0)


def rdkit_molecule(species: Tensor, orders: Tensor) -> Chem.RWMol:
    """An unsanitised RDKit molecule with the atoms and the bonds of ``orders [n, n]``."""
    mol = Chem.RWMol()
    for z in species.tolist():
        mol.AddAtom(Chem.Atom(int(z)))
    first, second = torch.triu(orders, diagonal=1).nonzero(as_tuple=True)
    for i, j, k in zip(first.tolist(), second.tolist(), orders[first, second].tolist(), strict=True):
        mol.AddBond(i, j, BOND_TYPES[k])
    return mol


def smiles_of(mol: Chem.Mol) -> str | None:
    """EDM validity: SMILES (hydrogens implicit) of the largest fragment if the molecule and that fragment
    sanitise, else None."""
    try:
        Chem.SanitizeMol(mol)
        fragments = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
        largest = max(fragments, key=lambda fragment: fragment.GetNumAtoms(), default=mol)
        Chem.SanitizeMol(largest)
        return Chem.MolToSmiles(Chem.RemoveHs(largest, sanitize=False))
    except (ValueError, RuntimeError):
        return None


def canonical_smiles(smiles: Iterable[str]) -> set[str]:
    """Canonical RDKit SMILES without stereochemistry (the form :func:`smiles_of` produces) of ``smiles``;
    strings RDKit cannot parse are left out."""
    RDLogger.DisableLog("rdApp.*")
    out = set()
    for text in smiles:
        mol = Chem.MolFromSmiles(text)
        if mol is not None:
            Chem.RemoveStereochemistry(mol)
            out.add(Chem.MolToSmiles(mol))
    return out


@dataclass(frozen=True)
class MoleculeReport:
    """Per-molecule results: ``atoms_stable`` / ``atoms_total`` counts, ``stable`` flag, SMILES or None."""

    atoms_stable: int
    atoms_total: int
    stable: bool
    smiles: str | None


def analyse(species: Tensor, pos: Tensor) -> MoleculeReport:
    """Stability and validity of one molecule (``species [n]`` atomic numbers, ``pos [n, 3]`` Angstrom)."""
    orders = bond_orders(species, pos)
    stable = atom_stable(species, orders)
    RDLogger.DisableLog("rdApp.*")
    return MoleculeReport(int(stable.sum()), int(stable.numel()), bool(stable.all()),
                          smiles_of(rdkit_molecule(species, orders)))


def molecule_metrics(molecules: Sequence[tuple[Tensor, Tensor]], train_smiles: set[str] | None = None
                     ) -> dict[str, float]:
    """EDM metrics of ``molecules`` (``(species [n], pos [n, 3])`` pairs), fractions in [0, 1].

    Returns atom_stability, mol_stability, validity, uniqueness (of the valid), novelty (of the unique,
    vs ``train_smiles`` canonical SMILES; only when given) and ``valid_unique`` = validity x uniqueness.
    """
    if not molecules:
        raise ValueError("no molecules to evaluate")
    reports = [analyse(species, pos) for species, pos in molecules]
    valid = [report.smiles for report in reports if report.smiles is not None]
    unique = set(valid)
    metrics = {
        "atom_stability": sum(r.atoms_stable for r in reports) / max(sum(r.atoms_total for r in reports), 1),
        "mol_stability": sum(r.stable for r in reports) / len(reports),
        "validity": len(valid) / len(reports),
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
    }
    metrics["valid_unique"] = metrics["validity"] * metrics["uniqueness"]
    if train_smiles is not None:
        metrics["novelty"] = len(unique - train_smiles) / len(unique) if unique else 0.0
    return metrics
