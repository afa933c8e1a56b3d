r"""Crystal metrics with the reference protocol (CDVAE / DiffCSP ``compute_metrics``).

* structural validity: every interatomic distance (periodic, pymatgen ``distance_matrix``) >= 0.5 Angstrom
  and volume >= 0.1 Angstrom^3;
* compositional validity: SMACT charge neutrality with the Pauling electronegativity test (single elements
  and all-metal alloys count as valid);
* CSP: ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)``; a prediction matches when both it and the
  reference are valid (structural and compositional) and ``get_rms_dist`` finds a mapping; the match rate
  is over all references, the RMSE the mean normalised RMS displacement over matches;
* generation: validity rates, Wasserstein-1 distance of densities (g/cm^3) and of the number of distinct
  elements between valid samples and references, COV-R / COV-P (fingerprint distances below the dataset's
  structure / composition cutoffs; needs ``matminer``), uniqueness and novelty with the same matcher.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from pymatgen.analysis.structure_matcher import StructureMatcher
from pymatgen.core import Lattice, Structure
from scipy.stats import wasserstein_distance

from genforge.core.errors import GenforgeError

MIN_DISTANCE = 0.5
MIN_VOLUME = 0.1
COV_CUTOFFS = {"mp_20": (0.4, 10.0), "carbon_24": (0.2, 4.0), "perov_5": (0.2, 4.0)}
"""(structure, composition) fingerprint-distance cutoffs of COV-R / COV-P (DiffCSP ``COV_Cutoffs``)."""


def reference_matcher() -> StructureMatcher:
    """The matcher of the reference protocol: ``StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)``."""
    return StructureMatcher(stol=0.5, ltol=0.3, angle_tol=10)


def structure_valid(structure: Structure, cutoff: float = MIN_DISTANCE) -> bool:
    """Minimum periodic interatomic distance >= ``cutoff`` Angstrom and volume >= 0.1 Angstrom^3."""
    if not math.isfinite(structure.volume) or structure.volume < MIN_VOLUME:
        return False
    if len(structure) < 2:
        return True
    distances = structure.distance_matrix + np.eye(len(structure)) * (cutoff + 10.0)
    return bool(distances.min() >= cutoff)


def composition_valid(species: Sequence[int]) -> bool:
    """SMACT charge neutrality + Pauling electronegativity test on the reduced composition (CDVAE rule)."""
    import smact
    from smact.screening import pauling_test

    counts = Counter(int(z) for z in species)
    elements = sorted(counts)
    stoichiometry = np.array([counts[z] for z in elements])
    stoichiometry = stoichiometry // np.gcd.reduce(stoichiometry)
    symbols = tuple(_symbols(elements))
    if len(symbols) == 1:
        return True
    if all(symbol in smact.metals for symbol in symbols):
        return True
    space = [smact.Element(symbol) for symbol in symbols]
    electronegativities = [element.pauling_eneg for element in space]
    threshold = int(stoichiometry.max())
    for oxidation_states in itertools.product(*(element.oxidation_states for element in space)):
        neutral = smact.neutral_ratios(oxidation_states, stoichs=[(int(c),) for c in stoichiometry],
                                       threshold=threshold)
        if not neutral:
            continue
        try:
            if pauling_test(oxidation_states, electronegativities):
                return True
        except TypeError:  # an element without a Pauling electronegativity: the test is skipped
            return True
    return False


def _symbols(atomic_numbers: Sequence[int]) -> list[str]:
    from pymatgen.core.periodic_table import Element

    return [Element.from_Z(z).symbol for z in atomic_numbers]


def make_structure(species: Sequence[int], frac: np.ndarray, cell: np.ndarray) -> Structure | None:
    """A pymatgen structure, or None when the arrays are not finite or the cell is degenerate."""
    frac, cell = np.asarray(frac, dtype=float), np.asarray(cell, dtype=float)
    if not (np.isfinite(frac).all() and np.isfinite(cell).all()):
        return None
    lattice = Lattice(cell)
    if not math.isfinite(lattice.volume) or abs(np.linalg.det(cell)) < 1e-8:
        return None
    return Structure(lattice, [int(z) for z in species], frac % 1.0)


@dataclass
class Crystal:
    """One crystal with its validity flags (computed once)."""

    species: Sequence[int]
    structure: Structure | None

    @classmethod
    def from_arrays(cls, species: Sequence[int], frac: np.ndarray, cell: np.ndarray) -> Crystal:
        return cls([int(z) for z in species], make_structure(species, frac, cell))

    @cached_property
    def struct_valid(self) -> bool:
        return self.structure is not None and structure_valid(self.structure)

    @cached_property
    def comp_valid(self) -> bool:
        return composition_valid(self.species)

    @property
    def valid(self) -> bool:
        return self.struct_valid and self.comp_valid


def csp_metrics(predictions: Sequence[Crystal], references: Sequence[Crystal]) -> dict[str, float]:
    """Match rate (over all references) and mean RMSE over matches (DiffCSP ``RecEval``), one sample each."""
    if len(predictions) != len(references) or not references:
        raise GenforgeError(f"need one prediction per reference, got {len(predictions)} and {len(references)}")
    matcher = reference_matcher()
    distances = []
    for prediction, reference in zip(predictions, references, strict=True):
        if not (prediction.valid and reference.valid):
            continue
        try:
            result = matcher.get_rms_dist(prediction.structure, reference.structure)
        except Exception:
            result = None
        if result is not None:
            distances.append(float(result[0]))
    return {"match_rate": len(distances) / len(references),
            "rmse": float(np.mean(distances)) if distances else float("nan"),
            "valid": float(np.mean([p.valid for p in predictions])),
            "num": float(len(references))}


def generation_metrics(samples: Sequence[Crystal], references: Sequence[Crystal], *,
                       train: Sequence[Crystal] = (), dataset: str | None = None) -> dict[str, float]:
    """Validity, density / #elements W1, uniqueness, novelty (vs ``train``), COV-R/P if ``dataset`` has cutoffs.

    W1 and COV use the valid samples only, as the reference protocol does; uniqueness is the fraction of
    valid samples not matched by an earlier one, novelty the fraction of valid samples matching no
    training structure of the same reduced formula.
    """
    valid = [c for c in samples if c.valid]
    metrics = {"struct_valid": float(np.mean([c.struct_valid for c in samples])),
               "comp_valid": float(np.mean([c.comp_valid for c in samples])),
               "valid": len(valid) / max(len(samples), 1)}
    if not valid:
        return metrics
    ref_structures = [c.structure for c in references if c.structure is not None]
    metrics["wdist_density"] = float(wasserstein_distance([c.structure.density for c in valid],
                                                          [s.density for s in ref_structures]))
    metrics["wdist_num_elems"] = float(wasserstein_distance([len(set(c.species)) for c in valid],
                                                            [len(set(c.species)) for c in references]))
    metrics["unique"] = uniqueness([c.structure for c in valid])
    if train:
        metrics["novel"] = novelty([c.structure for c in valid], [c.structure for c in train if c.structure])
    if dataset in COV_CUTOFFS:
        metrics.update(coverage([c for c in samples if c.structure is not None], references,
                                *COV_CUTOFFS[dataset]))
    return metrics


def _by_formula(structures: Sequence[Structure]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, structure in enumerate(structures):
        groups.setdefault(structure.composition.reduced_formula, []).append(index)
    return groups


def uniqueness(structures: Sequence[Structure]) -> float:
    """Fraction of structures not matched (reference matcher) by an earlier one of the same formula."""
    if not structures:
        return float("nan")
    matcher = reference_matcher()
    unique = 0
    for indices in _by_formula(structures).values():
        kept: list[Structure] = []
        for index in indices:
            if not any(matcher.fit(structures[index], other) for other in kept):
                kept.append(structures[index])
        unique += len(kept)
    return unique / len(structures)


def novelty(structures: Sequence[Structure], train: Sequence[Structure]) -> float:
    """Fraction of structures matching no training structure (same reduced formula, reference matcher)."""
    if not structures:
        return float("nan")
    matcher = reference_matcher()
    known = _by_formula(train)
    novel = sum(not any(matcher.fit(s, train[j]) for j in known.get(s.composition.reduced_formula, []))
                for s in structures)
    return novel / len(structures)


def coverage(samples: Sequence[Crystal], references: Sequence[Crystal], struct_cutoff: float,
             comp_cutoff: float) -> dict[str, float]:
    """COV-R / COV-P (CDVAE ``compute_cov``): CrystalNN site-fingerprint means and magpie composition
    fingerprints (standardised with the reference set's statistics, where CDVAE uses fixed MP statistics); a
    reference is covered when its nearest sample in each fingerprint is within the cutoff, a sample is precise
    likewise; precision is over all samples (failed fingerprints count as imprecise). Needs ``matminer``."""
    from matminer.featurizers.composition.composite import ElementProperty
    from matminer.featurizers.site.fingerprint import CrystalNNFingerprint
    from pymatgen.core import Composition
    from scipy.spatial.distance import cdist

    site_fp = CrystalNNFingerprint.from_preset("ops")
    comp_fp = ElementProperty.from_preset("magpie")

    def fingerprints(crystals: Sequence[Crystal]) -> tuple[np.ndarray, np.ndarray]:
        struct, comp = [], []
        for crystal in crystals:
            try:
                sites = [site_fp.featurize(crystal.structure, i) for i in range(len(crystal.structure))]
                struct.append(np.mean(sites, axis=0))
                comp.append(comp_fp.featurize(Composition(Counter(_symbols(crystal.species)))))
            except Exception:
                continue
        return np.array(struct), np.array(comp, dtype=float)

    ref_struct, ref_comp = fingerprints(references)
    gen_struct, gen_comp = fingerprints(samples)
    if not len(gen_struct) or not len(ref_struct):
        return {"cov_recall": 0.0, "cov_precision": 0.0}
    mean, std = ref_comp.mean(0), ref_comp.std(0) + 1e-8
    struct_dist = cdist(gen_struct, ref_struct)
    comp_dist = cdist((gen_comp - mean) / std, (ref_comp - mean) / std)
    recall = (struct_dist.min(0) <= struct_cutoff) & (comp_dist.min(0) <= comp_cutoff)
    precision = (struct_dist.min(1) <= struct_cutoff) & (comp_dist.min(1) <= comp_cutoff)
    return {"cov_recall": float(recall.mean()), "cov_precision": float(precision.sum() / len(samples))}
