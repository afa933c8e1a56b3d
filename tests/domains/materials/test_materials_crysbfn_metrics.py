"""Crystal metrics and the template baseline on hand-built valid and invalid structures."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from materials_crysbfn_fixtures import perovskite, write_perovskite_csv
from pymatgen.core import Lattice, Structure

from genforge.datasets.crystals import load_crystals
from genforge.domains.materials.baselines import TemplateBaseline
from genforge.domains.materials.crysbfn.task import evaluate_template
from genforge.domains.materials.metrics import (
    Crystal,
    composition_valid,
    csp_metrics,
    generation_metrics,
    structure_valid,
    uniqueness,
)


def _crystal(structure: Structure) -> Crystal:
    return Crystal([site.specie.Z for site in structure], structure)


def _rocksalt(length: float = 5.64) -> Structure:
    return Structure.from_spacegroup("Fm-3m", Lattice.cubic(length), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])


def test_structural_validity() -> None:
    assert structure_valid(_rocksalt())
    close = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.1, 0.0, 0.0]])  # 0.4 A apart
    assert not structure_valid(close)
    images = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0.02, 0, 0], [0.95, 0.0, 0.0]])  # 0.28 A through the face
    assert not structure_valid(images)
    flat = Structure(Lattice([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 0.005]]), ["Na"], [[0, 0, 0]])  # 0.045 A^3
    assert not structure_valid(flat)
    assert Crystal.from_arrays([11, 17], np.full((2, 3), np.nan), np.eye(3) * 4).struct_valid is False


def test_compositional_validity() -> None:
    assert composition_valid([11, 17])  # NaCl
    assert composition_valid([38, 22, 8, 8, 8])  # SrTiO3
    assert not composition_valid([11, 17, 17])  # NaCl2: no neutral oxidation-state assignment
    assert not composition_valid([8, 8, 9])  # O2F: anions only
    assert composition_valid([6, 6, 6])  # one element
    assert composition_valid([26, 28])  # FeNi: an all-metal alloy


def test_csp_match_rate_and_rmse() -> None:
    reference = _crystal(perovskite("Sr", "Ti", "O", 3.9))
    translated = perovskite("Sr", "Ti", "O", 3.9)
    translated.translate_sites(list(range(5)), [0.31, 0.1, 0.7])
    jittered = perovskite("Sr", "Ti", "O", 4.1)  # other volume (the matcher scales it) and small displacements
    jittered.translate_sites([2], [0.02, 0.0, 0.0])
    swapped = perovskite("Ti", "Sr", "O", 3.9)  # A and B exchanged: X on the wrong faces
    stretched = Structure(Lattice.tetragonal(3.5, 7.0), ["Sr", "Ti", "O", "O", "O"],  # c / a = 2: beyond ltol
                          perovskite("Sr", "Ti", "O", 1.0).frac_coords)
    metrics = csp_metrics([_crystal(s) for s in (translated, jittered, swapped, stretched)], [reference] * 4)
    assert metrics["match_rate"] == pytest.approx(0.5)
    assert 0.0 < metrics["rmse"] < 0.05
    exact = csp_metrics([_crystal(translated)], [reference])
    assert exact["match_rate"] == 1.0 and exact["rmse"] < 1e-6


def test_generation_metrics_and_uniqueness() -> None:
    a, b = perovskite("Sr", "Ti", "O", 3.9), perovskite("Ba", "Ti", "O", 4.0)
    assert uniqueness([a, perovskite("Sr", "Ti", "O", 4.2), b]) == pytest.approx(2 / 3)
    bad = Structure(Lattice.cubic(4.0), ["Na", "Cl"], [[0, 0, 0], [0.05, 0.0, 0.0]])
    metrics = generation_metrics([_crystal(a), _crystal(b), _crystal(bad)], [_crystal(a), _crystal(b)],
                                 train=[_crystal(a)])
    assert metrics["struct_valid"] == pytest.approx(2 / 3) and metrics["valid"] == pytest.approx(2 / 3)
    assert metrics["wdist_num_elems"] == 0.0 and metrics["wdist_density"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["novel"] == pytest.approx(0.5) and metrics["unique"] == 1.0


def test_template_baseline_substitutes_the_closest_composition(tmp_path) -> None:
    write_perovskite_csv(tmp_path / "syn", 40, seed=1)
    train = load_crystals("syn", "train", root=tmp_path, workers=1, cache=False)
    baseline = TemplateBaseline(train)
    prediction = baseline.predict([8, 56, 8, 50, 8])  # BaSnO3 in any atom order: A, B, X land on their sites
    structure = Structure(prediction.cell.numpy(), [8, 56, 8, 50, 8], prediction.frac.numpy())
    reference = perovskite("Ba", "Sn", "O", 4.0)
    assert csp_metrics([_crystal(structure)], [_crystal(reference)])["match_rate"] == 1.0
    assert baseline.predict([6, 6]) is None  # no two-atom template
    held_out = load_crystals("syn", "val", root=tmp_path, workers=1, cache=False)
    assert evaluate_template(train, held_out)["match_rate"] == 1.0
    assert torch.equal(baseline.predict(train.species[:5].tolist()).cell, train.cell[0])
