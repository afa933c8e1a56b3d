"""Template substitution: the trivial crystal-structure-prediction baseline every learned model must beat.

For a target composition (species list, atom count n), take the training structure of the most similar
composition with the same atom count, substitute its species site by site and keep its lattice and
fractional coordinates. "Most similar": among training structures with n atoms, prefer those with the same
stoichiometry pattern (sorted multiset of per-element counts); elements are paired within equal counts in
order of their Mendeleev number, and the template minimising sum(count * |Mendeleev number difference|)
wins (first in the training order on ties). Without a same-pattern template of n atoms, elements are
paired in (count, Mendeleev number) order over all n-atom templates with the same number of elements, then
over all n-atom templates; with no n-atom template at all the prediction is None.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
import torch
from torch import Tensor

from genforge.datasets.atoms_dataset import AtomsDataset


@cache
def mendeleev_number(z: int) -> int:
    """Pettifor's Mendeleev number of element ``z`` (pymatgen), a 1-D chemical similarity scale."""
    from pymatgen.core.periodic_table import Element

    return int(Element.from_Z(z).mendeleev_no)


def _signature(species: Sequence[int]) -> list[tuple[int, int]]:
    """Elements as (count, Mendeleev number, Z) sorted, returned as (count, Z) pairs."""
    counts = Counter(int(z) for z in species)
    ordered = sorted(counts, key=lambda z: (counts[z], mendeleev_number(z), z))
    return [(counts[z], z) for z in ordered]


@dataclass(frozen=True)
class TemplatePrediction:
    """A predicted structure: ``frac [n, 3]`` in the order of the query species, ``cell [3, 3]``."""

    frac: Tensor
    cell: Tensor
    template: int


class TemplateBaseline:
    """Index the training structures once; :meth:`predict` a structure for a composition."""

    def __init__(self, train: AtomsDataset):
        if train.frac is None or train.cell is None:
            raise ValueError("the template baseline needs crystals (frac and cell)")
        self.train = train
        species = train.species.split(train.num_atoms.tolist())
        self.signatures = [_signature(s.tolist()) for s in species]
        self.by_size: dict[int, list[int]] = {}
        for index, count in enumerate(train.num_atoms.tolist()):
            self.by_size.setdefault(count, []).append(index)

    def _cost(self, query: list[tuple[int, int]], template: list[tuple[int, int]]) -> float:
        if len(query) != len(template):
            return float(len(query) + len(template)) * 1e3
        pattern = 0.0 if [c for c, _ in query] == [c for c, _ in template] else 1e3
        return pattern + sum(c * abs(mendeleev_number(zq) - mendeleev_number(zt))
                             for (c, zq), (_, zt) in zip(query, template, strict=True))

    def predict(self, species: Sequence[int]) -> TemplatePrediction | None:
        """The substituted template for the composition ``species`` (sites come out in this order)."""
        species = [int(z) for z in species]
        candidates = self.by_size.get(len(species), [])
        if not candidates:
            return None
        query = _signature(species)
        costs = [self._cost(query, self.signatures[i]) for i in candidates]
        best = candidates[int(np.argmin(costs))]
        template = self.signatures[best]
        start, stop = int(self.train.ptr[best]), int(self.train.ptr[best + 1])
        template_species = self.train.species[start:stop].tolist()
        mapping = {zt: zq for (_, zq), (_, zt) in zip(query, template, strict=False)}
        substituted = [mapping.get(z, species[0]) for z in template_species]
        order = _assign(species, substituted)
        return TemplatePrediction(frac=self.train.frac[start:stop][order], cell=self.train.cell[best],
                                  template=best)


def _assign(query: list[int], substituted: list[int]) -> Tensor:
    """Template site index for each query atom: both sides stably sorted by element, then paired in order
    (so query atoms of element z take the sites labelled z in order when the element counts agree)."""
    query_order = torch.sort(torch.tensor(query), stable=True).indices
    site_order = torch.sort(torch.tensor(substituted), stable=True).indices
    order = torch.empty_like(site_order)
    order[query_order] = site_order
    return order
