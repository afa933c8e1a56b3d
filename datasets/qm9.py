"""QM9 (Ramakrishnan et al. 2014, Sci. Data 1, 140022) from the PyPI package ``qm9pack`` -> ``AtomsDataset``.

``qm9pack`` ships the 130,831 characterised molecules (the 133,885 GDB-9 molecules minus the 3,054 that
failed the consistency check) as three CSV files ``qm9pack/data/qm9_part{1,2,3}.csv``, one row per molecule:
``Index`` (GDB-9 number, 1..133,885), ``SMILES``, ``N_atoms``, ``Elements`` (``['C','H',...]``), ``XYZ_Ang``
(``[[x,y,z],...]``, B3LYP/6-31G(2df,p) geometry in Angstrom) and properties. The files are read directly
(importing ``qm9pack`` itself needs the removed ``pkg_resources``). Properties are converted to genforge
units and renamed with their unit: hartree -> eV (CODATA 2018, 27.211386245988 eV / hartree).

The split is EDM's (Hoogeboom et al. 2022; e3_diffusion_for_molecules, qm9/data/prepare/qm9.py,
``gen_splits_gdb9``, itself from Cormorant): the 130,831 included molecule indices sorted ascending,
``np.random.seed(0); perm = np.random.permutation(130831)``, train = first 100,000, val = next 17,748
(= 130,831 - 100,000 - int(0.1 * 130,831)), test = last 13,083. EDM then reads each split's files in
archive order; here each split is returned in ascending ``Index`` order (the GDB-9 archive lists its
files by number). EDM's ``remove_h`` drops hydrogen atoms after the split, as ``remove_h=True`` does here.
"""

from __future__ import annotations

import importlib.util
import logging
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pymatgen.core import Element
from torch import Tensor

from genforge.core.errors import DataError
from genforge.datasets.atoms_dataset import AtomsDataset, SkippedRow
from genforge.datasets.storage import cache_dir, file_digest, load_cache, require_file, save_cache

LOGGER = logging.getLogger(__name__)
CACHE_VERSION = 1
HARTREE_EV = 27.211386245988
QM9_NUM_MOLECULES = 130_831
EDM_SPLIT_SIZES = {"train": 100_000, "val": 17_748, "test": 13_083}
EDM_SPLIT_SEED = 0
QM9_FILES = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
REQUIRED_COLUMNS = ("Index", "SMILES", "N_atoms", "Elements", "XYZ_Ang")
# qm9pack column -> (genforge property name, factor to genforge units)
PROPERTY_COLUMNS = {
    "Dipole_debye": ("mu_debye", 1.0), "Polarizability_bohr3": ("alpha_bohr3", 1.0),
    "HOMO_au": ("homo_ev", HARTREE_EV), "LUMO_au": ("lumo_ev", HARTREE_EV),
    "HOMO_LUMO_gap_au": ("gap_ev", HARTREE_EV), "R2_bohr2": ("r2_bohr2", 1.0),
    "ZPVE_au": ("zpve_ev", HARTREE_EV), "InternalEnergy_0K_au": ("u0_ev", HARTREE_EV),
    "InternalEnergy_298K_au": ("u298_ev", HARTREE_EV), "Enthalphy_298K_au": ("h298_ev", HARTREE_EV),
    "GibbsFreeEnergy_298K_au": ("g298_ev", HARTREE_EV), "Heatcapacity_Cv_cal_mol_K": ("cv_cal_mol_k", 1.0),
}


def qm9pack_files() -> list[Path]:
    """The three qm9pack CSV files, located without importing qm9pack."""
    spec = importlib.util.find_spec("qm9pack")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the package qm9pack is not installed; pip install qm9pack (genforge[materials])",
                        field="qm9pack")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    return [require_file(folder / name, "reinstall qm9pack") for name in QM9_FILES]


def load_qm9(*, remove_h: bool = False, strict: bool = False, cache: bool = True) -> AtomsDataset:
    """All QM9 molecules of qm9pack (parsed once, ~6 s, then cached); hydrogens dropped if ``remove_h``."""
    paths = qm9pack_files()
    cache_path = None
    dataset = None
    if cache:
        cache_path = cache_dir() / "qm9" / f"qm9pack-{file_digest(paths)[:20]}-v{CACHE_VERSION}.pt"
        payload = load_cache(cache_path)
        dataset = None if payload is None else AtomsDataset.from_payload(payload)
    if dataset is None:
        dataset = read_qm9_csv(paths, strict=strict)
        if cache_path is not None:
            save_cache(cache_path, dataset.to_payload())
    elif strict and dataset.skipped:
        first = dataset.skipped[0]
        raise DataError(first.reason, field=f"row {first.row} (Index {first.name})")
    return dataset.keep_atoms(dataset.species != 1) if remove_h else dataset


def load_qm9_split(split: Literal["train", "val", "test"], *, remove_h: bool = False,
                   cache: bool = True) -> AtomsDataset:
    """EDM's ``split`` of QM9 (100,000 / 17,748 / 13,083 molecules), in ascending molecule index."""
    dataset = load_qm9(remove_h=remove_h, strict=True, cache=cache)
    chosen = edm_split(dataset.source_rows)[split]
    return dataset.subset(torch.searchsorted(dataset.source_rows, chosen))


def edm_split(indices: Tensor) -> dict[str, Tensor]:
    """EDM's split of the molecule ``indices [130831]`` (GDB-9 numbers): split name -> sorted indices."""
    included = torch.unique(indices)
    if included.shape[0] != QM9_NUM_MOLECULES or indices.shape[0] != QM9_NUM_MOLECULES:
        raise DataError(f"EDM's split needs the {QM9_NUM_MOLECULES} distinct QM9 molecules, got "
                        f"{included.shape[0]} distinct of {indices.shape[0]}", field="qm9 indices")
    permutation = torch.from_numpy(np.random.RandomState(EDM_SPLIT_SEED).permutation(QM9_NUM_MOLECULES))
    bounds = np.cumsum([0, *EDM_SPLIT_SIZES.values()]).tolist()
    return {name: included[permutation[start:stop]].sort().values
            for name, start, stop in zip(EDM_SPLIT_SIZES, bounds[:-1], bounds[1:], strict=True)}


def read_qm9_csv(paths: Sequence[str | Path], *, nrows: int | None = None,
                 strict: bool = False) -> AtomsDataset:
    """Parse qm9pack-format CSV files (the first ``nrows`` rows of each if given), vectorised.

    A row whose ``N_atoms`` disagrees with its element or coordinate list, or with an unknown element or a
    non-finite coordinate, is skipped and listed in ``skipped`` (``strict``: raises ``DataError``).
    """
    frames = []
    for path in paths:
        path = require_file(path, "expected a qm9pack CSV")
        header = pd.read_csv(path, nrows=0).columns
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise DataError(f"missing column(s) {missing}", source=path, field="header (line 1)")
        columns = [*REQUIRED_COLUMNS, *(column for column in PROPERTY_COLUMNS if column in header)]
        frame = pd.read_csv(path, usecols=columns, nrows=nrows)
        frames.append(frame.assign(source_file=str(path), source_line=np.arange(len(frame)) + 2))
    table = pd.concat(frames, ignore_index=True)
    problems = _row_problems(table)
    bad = problems.notna().to_numpy()
    files, lines = table["source_file"], table["source_line"]
    skipped = [SkippedRow(int(row), str(table.Index[row]), f"{files[row]} line {lines[row]}: {problems[row]}")
               for row in np.flatnonzero(bad)]
    if skipped and strict:
        first = skipped[0]
        raise DataError(problems[first.row], source=files[first.row],
                        field=f"line {lines[first.row]} (Index {first.name})")
    if skipped:
        LOGGER.warning("QM9: skipped %d unusable row(s), first: %s", len(skipped), skipped[0].reason)
    good = table[~bad].reset_index(drop=True)
    if good.empty:
        raise DataError(f"no usable molecule in {len(table)} row(s)", source=str(paths[0]))
    species, pos = _parse_atoms(good)
    properties = {name: torch.tensor(good[column].to_numpy(np.float64) * factor)
                  for column, (name, factor) in PROPERTY_COLUMNS.items() if column in good}
    return AtomsDataset(species=torch.from_numpy(species), pos=torch.from_numpy(pos),
                        num_atoms=torch.tensor(good.N_atoms.to_numpy(np.int64)),
                        source_rows=torch.tensor(good.Index.to_numpy(np.int64)),
                        names=good.Index.astype(str).tolist(), properties=properties,
                        strings={"smiles": good.SMILES.astype(str).tolist()}, skipped=skipped)


def _atomic_numbers(symbols: np.ndarray) -> np.ndarray:
    """Atomic numbers of element ``symbols`` (0 where the symbol is not an element)."""
    unique, inverse = np.unique(symbols, return_inverse=True)
    numbers = np.array([Element(s).Z if Element.is_valid_symbol(s) else 0 for s in unique], dtype=np.int64)
    return numbers[inverse]


def _split_lists(column: pd.Series) -> np.ndarray:
    """The comma-separated items of a column of Python-list strings, flattened, brackets/quotes removed."""
    text = ",".join(column.tolist())
    return np.array(text.replace("[", "").replace("]", "").replace("'", "").split(","))


def _parse_floats(column: pd.Series, expected: int) -> np.ndarray | None:
    """All numbers of a column of nested-list strings, or None if they do not parse to ``expected`` values."""
    text = ",".join(column.tolist()).replace("[", "").replace("]", "")
    try:
        with warnings.catch_warnings():  # older numpy warns and returns the prefix it could read
            warnings.simplefilter("ignore")
            values = np.fromstring(text, sep=",")
    except ValueError:  # numpy >= 2.3 raises on a token that is not a number
        return None
    return values if values.shape[0] == expected else None


def _row_problems(table: pd.DataFrame) -> pd.Series:
    """Per row: None, or why it cannot be used (counts, coordinates, elements), all vectorised."""
    declared = table.N_atoms.to_numpy()
    num_elements = table.Elements.str.count(",").to_numpy() + 1
    num_triplets = table.XYZ_Ang.str.count(r"\[").to_numpy() - 1
    problems = pd.Series([None] * len(table), dtype=object)
    mismatch = (num_elements != declared) | (num_triplets != declared)
    counts = zip(declared[mismatch], num_elements[mismatch], num_triplets[mismatch], strict=True)
    problems[mismatch] = [f"N_atoms = {n} but {e} element(s) and {t} coordinate triplet(s)"
                          for n, e, t in counts]
    rows = np.flatnonzero(~mismatch)
    symbols = _split_lists(table.Elements.iloc[rows])
    unknown = np.unique(np.repeat(rows, declared[rows])[_atomic_numbers(symbols) == 0])
    problems[unknown] = [f"unknown element in {table.Elements[row]}" for row in unknown]
    values = _parse_floats(table.XYZ_Ang.iloc[rows], 3 * int(declared[rows].sum()))
    if values is None:
        unreadable = [row for row in rows
                      if _parse_floats(table.XYZ_Ang.iloc[[row]], 3 * int(declared[row])) is None]
        problems[unreadable] = "XYZ_Ang holds a value that is not a number"
        rows = np.setdiff1d(rows, unreadable)
        values = _parse_floats(table.XYZ_Ang.iloc[rows], 3 * int(declared[rows].sum()))
    owner = np.repeat(rows, declared[rows])
    nonfinite = np.unique(owner[~np.isfinite(values.reshape(-1, 3)).all(axis=1)])
    problems[nonfinite] = "non-finite coordinate in XYZ_Ang"
    return problems


def _parse_atoms(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Species ``[N]`` and positions ``[N, 3]`` (Angstrom) of rows already checked by ``_row_problems``."""
    species = _atomic_numbers(_split_lists(table.Elements))
    pos = _parse_floats(table.XYZ_Ang, 3 * int(table.N_atoms.sum()))
    return species, pos.reshape(-1, 3)
