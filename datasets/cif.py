"""One CIF data block -> species, wrapped fractional coordinates and lattice parameters (pymatgen).

Canonicalisation follows CDVAE's ``build_crystal`` (Xie et al. 2022, cdvae/common/data_utils.py), which
DiffCSP and CrysBFN reuse: parse with ``CifParser``, optionally take the primitive cell, optionally
Niggli-reduce (``Structure.get_reduced_structure``), then keep only the lattice PARAMETERS and the
fractional coordinates, so the cell matrix is rebuilt in pymatgen's ``Lattice.from_parameters``
orientation (``genforge.core.geometry.lattice.lattice_params_to_matrix``). Coordinates are wrapped to [0, 1).

A block that cannot be used raises ``CifBlockError`` with the reason and, when it can be located, the
1-based line inside the block's text (unknown element, non-finite coordinate or cell parameter,
degenerate cell, partial occupancy, or pymatgen's own message).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Element, Structure
from pymatgen.core.periodic_table import DummySpecies
from pymatgen.io.cif import CifFile, CifParser

CELL_KEYS = ("_cell_length_a", "_cell_length_b", "_cell_length_c",
             "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma")
COORD_KEYS = ("_atom_site_fract_x", "_atom_site_fract_y", "_atom_site_fract_z")
# A cell is degenerate when volume / (a b c) falls below this (1 for a cube, 0 for a flat cell).
MIN_NORMALISED_VOLUME = 1e-6
_SYMBOL = re.compile(r"[A-Z][a-z]?")
_UNCERTAINTY = re.compile(r"\(\d+\)$")


class CifBlockError(Exception):
    """Why a CIF block is unusable; ``line`` is 1-based within the block text, None when unknown."""

    def __init__(self, reason: str, line: int | None = None):
        self.reason = reason
        self.line = line
        super().__init__(reason if line is None else f"line {line}: {reason}")


@dataclass(frozen=True)
class CrystalArrays:
    """One parsed crystal: species ``[n]`` (atomic numbers), frac ``[n, 3]`` in [0, 1), lengths ``[3]``
    (Angstrom) and angles ``[3]`` (alpha, beta, gamma in radians)."""

    species: np.ndarray
    frac: np.ndarray
    lengths: np.ndarray
    angles: np.ndarray


def parse_cif_block(text: str, *, niggli: bool = False, primitive: bool = False,
                    file_order: bool = False) -> CrystalArrays:
    """Parse one CIF data block; ``niggli`` / ``primitive`` as in CDVAE (their datasets use niggli=True).

    pymatgen groups the sites by species (electronegativity order), as CDVAE's data pipeline sees them;
    ``file_order=True`` restores the order of the atom-site loop when its labels are unique (P1 files).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            structures = CifParser.from_str(text, check_cif=False).parse_structures(
                primitive=False, on_error="raise")
        except Exception as error:  # pymatgen raises many types; the diagnosis below names the cause
            problem = diagnose_cif_block(text) or CifBlockError(f"pymatgen could not parse the CIF: {error}")
            raise problem from None
    if len(structures) != 1:
        raise CifBlockError(f"expected one structure in the block, pymatgen found {len(structures)}")
    structure = structures[0]
    problem = _structure_problem(structure)
    if problem is not None:
        raise diagnose_cif_block(text) or CifBlockError(problem)
    if file_order:
        structure = _in_file_order(structure, text)
    try:
        if primitive:
            structure = structure.get_primitive_structure()
        if niggli:
            structure = structure.get_reduced_structure()
    except Exception as error:  # numerical failures inside pymatgen's reductions
        raise CifBlockError(f"primitive / Niggli reduction failed: {error}") from None
    frac = structure.frac_coords - np.floor(structure.frac_coords)
    frac[frac >= 1.0] -= 1.0
    parameters = np.asarray(structure.lattice.parameters, dtype=np.float64)
    return CrystalArrays(species=np.asarray(structure.atomic_numbers, dtype=np.int64), frac=frac,
                         lengths=parameters[:3], angles=np.radians(parameters[3:]))


def split_cif_blocks(text: str) -> list[tuple[int, str]]:
    """``(first line number, block text)`` for each ``data_`` block; text before the first block joins it."""
    lines = text.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.lower().startswith("data_")]
    if not starts:
        return [(1, text)]
    starts[0] = 0
    bounds = [*starts, len(lines)]
    return [(bounds[k] + 1, "".join(lines[bounds[k]:bounds[k + 1]])) for k in range(len(starts))]


def _structure_problem(structure: Structure) -> str | None:
    """A reason the parsed structure is unusable, or None."""
    if not structure.is_ordered:
        return "partial occupancy (disordered structures are not supported)"
    if any(isinstance(specie, DummySpecies) or not 1 <= specie.Z <= 118 for specie in structure.species):
        return "unknown element"
    if not (np.isfinite(structure.frac_coords).all() and np.isfinite(structure.lattice.matrix).all()):
        return "non-finite coordinate or cell"
    lengths = structure.lattice.abc
    if np.linalg.det(structure.lattice.matrix) <= 0:
        return "cell with a negative length or left-handed axes (non-positive determinant)"
    if structure.volume < MIN_NORMALISED_VOLUME * lengths[0] * lengths[1] * lengths[2]:
        return f"zero-volume (degenerate) cell: volume {structure.volume:.3g} A^3"
    return None


def _in_file_order(structure: Structure, text: str) -> Structure:
    """``structure`` with its sites in the order of the block's ``_atom_site_label`` column, if unique."""
    file_labels = list(_raw_data(text).get("_atom_site_label", []))
    labels = structure.labels
    if len(set(labels)) != len(labels) or sorted(labels) != sorted(file_labels):
        return structure
    position = {label: index for index, label in enumerate(file_labels)}
    order = np.argsort([position[label] for label in labels])
    return Structure.from_sites([structure[int(index)] for index in order])


def _raw_data(text: str) -> dict[str, str | list[str]]:
    """The first data block's key -> value(s) (keys lower-cased); raises if the text is not a CIF."""
    blocks = list(CifFile.from_str(text).data.values())
    return {key.lower(): value for key, value in blocks[0].data.items()} if blocks else {}


def _parse_number(value: str) -> float | None:
    try:
        return float(_UNCERTAINTY.sub("", value))
    except ValueError:
        return None


def _key_line(lines: list[str], key: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        tokens = line.split()
        if tokens and tokens[0].lower() == key.lower():
            return number
    return None


def _loop_row_lines(lines: list[str], key: str) -> list[int]:
    """1-based line numbers of the data rows of the loop holding ``key`` (one row per line assumed)."""
    header = _key_line(lines, key)
    if header is None:
        return []
    index = header
    while index < len(lines) and lines[index].lstrip().startswith("_"):
        index += 1
    rows = []
    while index < len(lines):
        stripped = lines[index].strip()
        if stripped.startswith(("_", "loop_", "data_")):
            break
        if stripped and not stripped.startswith("#"):
            rows.append(index + 1)
        index += 1
    return rows


def diagnose_cif_block(text: str) -> CifBlockError | None:
    """Locate the first problem of a CIF block by reading its raw key/values, or None if none is found."""
    lines = text.splitlines()
    try:
        data = _raw_data(text)
    except Exception as error:  # the raw CIF tokenizer failed: not a CIF at all
        return CifBlockError(f"not a readable CIF: {error}")
    if not data:
        return CifBlockError("no data_ block found")
    parameters = []
    for key in CELL_KEYS:
        if key not in data:
            return CifBlockError(f"missing {key}")
        value = _parse_number(str(data[key]))
        if value is None or not math.isfinite(value) or value <= 0:
            return CifBlockError(f"{key} = {data[key]!r} is not a positive finite number",
                                 _key_line(lines, key))
        parameters.append(value)
    cosines = [math.cos(math.radians(angle)) for angle in parameters[3:]]
    factor = 1 - sum(c * c for c in cosines) + 2 * cosines[0] * cosines[1] * cosines[2]
    if factor < MIN_NORMALISED_VOLUME**2:
        volume = parameters[0] * parameters[1] * parameters[2] * math.sqrt(max(factor, 0.0))
        return CifBlockError(f"zero-volume (degenerate) cell: volume {volume:.3g} A^3",
                             _key_line(lines, "_cell_angle_alpha"))
    symbol_key = "_atom_site_type_symbol" if "_atom_site_type_symbol" in data else "_atom_site_label"
    rows = _loop_row_lines(lines, symbol_key)
    symbols = data.get(symbol_key, [])
    for site, symbol in enumerate(symbols):
        match = _SYMBOL.match(symbol)
        if match is None or not Element.is_valid_symbol(match.group()):
            return CifBlockError(f"unknown element {symbol!r} at atom site {site}", _row_line(rows, site))
    for key in COORD_KEYS:
        for site, value in enumerate(data.get(key, [])):
            number = _parse_number(value)
            if number is None or not math.isfinite(number):
                return CifBlockError(f"{key} = {value!r} at atom site {site} is not a finite number",
                                  _row_line(rows, site))
    return None


def _row_line(rows: list[int], site: int) -> int | None:
    return rows[site] if site < len(rows) else None


def parse_cif_row(text: str, niggli: bool, primitive: bool) -> CrystalArrays | tuple[str, int | None]:
    """``parse_cif_block`` for worker processes: the arrays, or ``(reason, line)`` instead of raising."""
    try:
        return parse_cif_block(text, niggli=niggli, primitive=primitive)
    except CifBlockError as problem:
        return problem.reason, problem.line
