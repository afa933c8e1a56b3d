"""Reactant / product files -> checked reaction pairs, and generated TSs -> extended XYZ.

A reactant file and a product file hold the same number of frames (one reaction per frame pair, batch
mode when there are several). A pair is usable when both frames have the same atom count and element
order (atom i is the same atom in both, as in RDB7) and every element is one the model was trained on;
otherwise it gets a :class:`~genforge.core.errors.DataError` naming the frame and the atoms that differ.
Malformed files (bad counts, unknown element symbols, non-finite coordinates) are rejected by the shared
structure reader, which names the file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from ase.data import chemical_symbols
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.batch import AtomsRecord
from genforge.domains.materials.io import read_structures, write_xyz

MAX_LISTED = 5
"""Atoms listed by name in a mismatch message before the rest are counted."""


@dataclass(frozen=True)
class ReactionPair:
    """One reaction to generate a TS for: ``species [N]``, ``reactant``, ``product [N, 3]`` (Angstrom)."""

    species: Tensor
    reactant: Tensor
    product: Tensor
    name: str


def _symbols(species: Tensor) -> list[str]:
    return [chemical_symbols[int(z)] for z in species]


def check_pair(reactant: AtomsRecord, product: AtomsRecord, *, elements: Sequence[int], where: str
               ) -> ReactionPair:
    """The pair as a :class:`ReactionPair`, or a DataError saying which atoms differ (``where`` names it)."""
    n_r, n_p = reactant.species.shape[0], product.species.shape[0]
    if n_r != n_p:
        raise DataError(f"reactant has {n_r} atoms but product has {n_p}; the same atoms in the same order "
                        "are required", source=where)
    differ = (reactant.species != product.species).nonzero().flatten().tolist()
    if differ:
        listed = ", ".join(f"atom {i + 1}: {chemical_symbols[int(reactant.species[i])]} in reactant, "
                           f"{chemical_symbols[int(product.species[i])]} in product" for i in differ[:MAX_LISTED])
        more = f" and {len(differ) - MAX_LISTED} more" if len(differ) > MAX_LISTED else ""
        raise DataError(f"element order differs ({listed}{more}); atom i must be the same atom in both files",
                        source=where)
    unknown = sorted(set(reactant.species.tolist()) - set(elements))
    if unknown:
        raise DataError(f"element(s) {', '.join(_symbols(torch.tensor(unknown)))} not supported by the model "
                        f"(trained on {', '.join(_symbols(torch.tensor(sorted(elements))))})", source=where)
    name = reactant.name or product.name
    return ReactionPair(reactant.species, reactant.pos, product.pos, name)


def read_pairs(reactant_path: str | Path, product_path: str | Path, *, elements: Sequence[int]
               ) -> list[ReactionPair | DataError]:
    """Frame-by-frame pairs of the two files: a :class:`ReactionPair` or the DataError of a bad pair.

    Raises:
        DataError: a file is malformed, or the files hold different numbers of frames.
    """
    reactants, products = read_structures(reactant_path), read_structures(product_path)
    if len(reactants) != len(products):
        raise DataError(f"{len(reactants)} reactant frame(s) but {len(products)} product frame(s) in "
                        f"{product_path}; frame k of both files is one reaction", source=reactant_path)
    results: list[ReactionPair | DataError] = []
    for index, (reactant, product) in enumerate(zip(reactants, products, strict=True)):
        where = f"{reactant_path} + {product_path}" + (f", frame {index + 1}" if len(reactants) > 1 else "")
        try:
            results.append(check_pair(reactant, product, elements=elements, where=where))
        except DataError as error:
            results.append(error)
    return results


def write_transition_states(path: str | Path, pairs: Sequence[ReactionPair], positions: Sequence[Tensor],
                            energies: Sequence[float | None]) -> None:
    """Extended XYZ with one frame per TS (name, and ``energy`` in eV when computed); atomic write."""
    records = [AtomsRecord(species=pair.species, pos=pos.double(), name=pair.name or f"ts_{index + 1}",
                           properties={} if energy is None else {"energy": energy})
               for index, (pair, pos, energy) in enumerate(zip(pairs, positions, energies, strict=True))]
    write_xyz(path, records)
