"""Structure files <-> ``AtomsRecord``: CIF (pymatgen), XYZ / extended XYZ (ase), SDF (rdkit).

``read_structures(path)`` dispatches on the suffix (.cif; .xyz / .extxyz; .sdf / .mol) and returns one
record per data block / frame / molecule, float64, exactly as in the file (no Niggli reduction, no
re-centring; a CIF's fractional coordinates come back wrapped to [0, 1) and its cell in pymatgen's
``Lattice.from_parameters`` orientation, since a CIF stores only lengths and angles). A malformed file
raises ``DataError`` naming the file and the line: wrong atom count, unknown element, non-finite
coordinate, zero-volume cell, or the parser's own message.

Writers take one record or a sequence, write to a temporary file beside the target and ``os.replace``
it, so a failure never leaves a half-written file. Precision: CIF 1e-8 (fractional, Angstrom, degrees),
XYZ 1e-8 (extended) / 1e-15 (plain) Angstrom, SDF (V2000) 1e-4 Angstrom.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import ase.io
import numpy as np
import torch
from ase import Atoms
from ase.data import atomic_numbers
from pymatgen.core import Lattice, Structure
from pymatgen.io.cif import CifWriter
from rdkit import Chem, rdBase
from torch import Tensor

from genforge.core.atomic import atomic_write_text
from genforge.core.errors import DataError
from genforge.core.geometry.lattice import cart_to_frac, frac_to_cart, lattice_params_to_matrix
from genforge.datasets.batch import AtomsRecord
from genforge.datasets.cif import MIN_NORMALISED_VOLUME, CifBlockError, parse_cif_block, split_cif_blocks
from genforge.datasets.storage import read_text

F64 = torch.float64
BOND_TYPES = {1: Chem.BondType.SINGLE, 2: Chem.BondType.DOUBLE, 3: Chem.BondType.TRIPLE,
              4: Chem.BondType.AROMATIC}


def read_structures(path: str | Path) -> list[AtomsRecord]:
    """All structures in ``path`` (.cif, .xyz, .extxyz, .sdf, .mol) as float64 records."""
    path = Path(path)
    readers: dict[str, Callable[[Path, str], list[AtomsRecord]]] = {
        ".cif": _read_cif, ".xyz": _read_xyz, ".extxyz": _read_xyz, ".sdf": _read_sdf, ".mol": _read_sdf}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"unknown structure format {path.suffix!r}; expected one of {sorted(readers)}",
                        source=path)
    return reader(path, read_text(path))


def write_cif(path: str | Path, records: AtomsRecord | Sequence[AtomsRecord]) -> None:
    """Crystals as CIF data blocks (P1, one ``data_<name>`` block per record)."""
    blocks = []
    for index, record in enumerate(_as_list(records)):
        if record.cell is None or record.frac is None:
            raise DataError(f"record {index} has no cell; write molecules as XYZ or SDF", source=path)
        structure = Structure(Lattice(record.cell.double().numpy()), record.species.tolist(),
                              record.frac.double().numpy())
        with warnings.catch_warnings():  # pymatgen warns about elements without electronegativity
            warnings.simplefilter("ignore")
            text = str(CifWriter(structure))
        blocks.append(re.sub(r"^data_.*$", f"data_{_block_name(record, index)}", text, count=1, flags=re.M))
    atomic_write_text(path, "\n".join(blocks))


def write_xyz(path: str | Path, records: AtomsRecord | Sequence[AtomsRecord], *,
              extended: bool = True) -> None:
    """Frames as extended XYZ (cell, pbc, name and properties in the comment line) or plain XYZ.

    Plain XYZ (``extended=False``) has a name-only comment line and cannot hold a cell.
    """
    buffer = io.StringIO()
    for index, record in enumerate(_as_list(records)):
        atoms = Atoms(numbers=record.species.numpy(), positions=record.pos.double().numpy())
        if extended:
            if record.cell is not None:
                atoms.set_cell(record.cell.double().numpy())
                atoms.set_pbc(True)
            atoms.info.update({"name": _block_name(record, index), **record.properties})
            ase.io.write(buffer, atoms, format="extxyz")
        else:
            if record.cell is not None:
                raise DataError(f"record {index} is a crystal; plain XYZ cannot hold a cell (use extended)",
                                source=path)
            ase.io.write(buffer, atoms, format="xyz", comment=record.name)
    atomic_write_text(path, buffer.getvalue())


def write_sdf(path: str | Path, records: AtomsRecord | Sequence[AtomsRecord],
              bonds: Sequence[Tensor | None] | None = None) -> None:
    """Molecules as an SDF (V2000); ``bonds[k]`` is ``[E, 3]`` long (i, j, order 1/2/3, 4 = aromatic) or None.

    Without bonds the connection table is empty (bond perception belongs to the metrics, not the writer).
    """
    records = _as_list(records)
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    writer.SetKekulize(False)
    for index, record in enumerate(records):
        if record.cell is not None:
            raise DataError(f"record {index} is a crystal; SDF cannot hold a cell, write CIF", source=path)
        molecule = Chem.RWMol()
        for number in record.species.tolist():
            molecule.AddAtom(Chem.Atom(number))
        for i, j, order in ([] if bonds is None or bonds[index] is None else bonds[index].tolist()):
            molecule.AddBond(i, j, BOND_TYPES[order])
        conformer = Chem.Conformer(record.num_atoms)
        conformer.SetPositions(record.pos.double().numpy())
        molecule.AddConformer(conformer, assignId=True)
        molecule.SetProp("_Name", record.name)
        for name, value in record.properties.items():
            molecule.SetDoubleProp(name, float(value))
        molecule.UpdatePropertyCache(strict=False)
        writer.write(molecule)
    writer.close()
    atomic_write_text(path, buffer.getvalue())


def _as_list(records: AtomsRecord | Sequence[AtomsRecord]) -> list[AtomsRecord]:
    return [records] if isinstance(records, AtomsRecord) else list(records)


def _block_name(record: AtomsRecord, index: int) -> str:
    return re.sub(r"\s+", "_", record.name) or f"structure_{index}"




def _read_cif(path: Path, text: str) -> list[AtomsRecord]:
    records = []
    for index, (first_line, block) in enumerate(split_cif_blocks(text)):
        try:
            crystal = parse_cif_block(block, file_order=True)
        except CifBlockError as problem:
            where = (f"line {first_line + problem.line - 1}" if problem.line is not None
                     else f"data block {index} (from line {first_line})")
            raise DataError(problem.reason, source=path, field=where) from None
        cell = lattice_params_to_matrix(torch.from_numpy(crystal.lengths), torch.from_numpy(crystal.angles))
        frac = torch.from_numpy(crystal.frac)
        header = next((line for line in block.splitlines() if line.lower().startswith("data_")), "data_")
        records.append(AtomsRecord(species=torch.from_numpy(crystal.species), pos=frac_to_cart(frac, cell),
                                   frac=frac, cell=cell, name=header[5:].strip()))
    return records


def _xyz_frames(path: Path, lines: list[str]) -> list[tuple[int, int]]:
    """``(first line index, atom count)`` per frame; checks each count line against the lines after it."""
    frames: list[tuple[int, int]] = []
    start = 0
    while start < len(lines) and any(line.strip() for line in lines[start:]):
        try:
            count = int(lines[start].strip())
        except ValueError:
            hint = (f"; the count {frames[-1][1]} on line {frames[-1][0] + 1} may be wrong" if frames else "")
            raise DataError(f"expected the number of atoms, got {lines[start].strip()!r}{hint}",
                            source=path, field=f"line {start + 1}") from None
        available = len(lines) - start - 2
        if count < 0 or count > available:
            raise DataError(f"the header declares {count} atoms but {max(available, 0)} line(s) follow",
                            source=path, field=f"line {start + 1}")
        frames.append((start, count))
        start += count + 2
    if not frames:
        raise DataError("empty XYZ file", source=path)
    return frames


def _diagnose_xyz_atoms(path: Path, lines: list[str], frames: list[tuple[int, int]]) -> None:
    """Raise a DataError at the first atom line that is not ``symbol x y z`` with a known element."""
    for start, count in frames:
        for number in range(start + 3, start + 3 + count):
            tokens = lines[number - 1].split()
            if len(tokens) < 4:
                raise DataError(f"expected 'symbol x y z', got {lines[number - 1].strip()!r}", source=path,
                                field=f"line {number}")
            if atomic_numbers.get(tokens[0], 0) == 0 and not tokens[0].isdigit():
                raise DataError(f"unknown element {tokens[0]!r}", source=path, field=f"line {number}")
            try:
                [float(value) for value in tokens[1:4]]
            except ValueError:
                raise DataError(f"coordinates {tokens[1:4]} are not numbers", source=path,
                                field=f"line {number}") from None


def _read_xyz(path: Path, text: str) -> list[AtomsRecord]:
    lines = text.splitlines()
    frames = _xyz_frames(path, lines)
    try:
        images = ase.io.read(io.StringIO(text), index=":", format="extxyz")
    except Exception as error:  # ase raises KeyError, ValueError, XYZError...; locate the line ourselves
        _diagnose_xyz_atoms(path, lines, frames)
        raise DataError(f"ase could not read the file: {error!r}", source=path) from None
    records = []
    for (start, _), atoms in zip(frames, images, strict=True):
        species = torch.from_numpy(atoms.numbers.astype(np.int64))
        pos = torch.from_numpy(atoms.positions.astype(np.float64))
        unknown = (species == 0).nonzero()
        if unknown.numel():
            raise DataError("unknown element", source=path, field=f"line {start + 3 + int(unknown[0])}")
        nonfinite = (~pos.isfinite().all(dim=1)).nonzero()
        if nonfinite.numel():
            raise DataError("non-finite coordinate", source=path,
                            field=f"line {start + 3 + int(nonfinite[0])}")
        frac, cell = None, None
        if atoms.pbc.any():
            cell = torch.from_numpy(atoms.cell.array.astype(np.float64))
            if torch.linalg.det(cell).abs() < MIN_NORMALISED_VOLUME * cell.norm(dim=1).prod():
                raise DataError("zero-volume (degenerate) cell in Lattice=", source=path,
                                field=f"line {start + 2}")
            frac = cart_to_frac(pos, cell)
        comment = lines[start + 1].strip()
        name = str(atoms.info.get("name", "" if "=" in comment else comment))
        records.append(AtomsRecord(species=species, pos=pos, frac=frac, cell=cell, name=name,
                                   properties=_numeric_properties(atoms)))
    return records


def _numeric_properties(atoms: Atoms) -> dict[str, float]:
    """Scalar numbers of an ase frame's info and single-point results (e.g. ``energy``), as floats."""
    values = dict(atoms.info)
    if atoms.calc is not None:
        values.update(atoms.calc.results)
    return {name: float(value) for name, value in values.items()
            if isinstance(value, (int, float, np.number)) and not isinstance(value, (bool, np.bool_))}


def _molblock_problem(lines: list[str]) -> tuple[int, str] | None:
    """``(line within the block, reason)`` for a V2000 block RDKit rejected, or None if not located."""
    if len(lines) < 4 or "V2000" not in lines[3]:
        return (4, "counts line is not a V2000 counts line") if len(lines) >= 4 else (1, "truncated molblock")
    try:
        count = int(lines[3][:3])
    except ValueError:
        return 4, f"atom count {lines[3][:3]!r} is not a number"
    for number in range(5, 5 + count):
        line = lines[number - 1] if number - 1 < len(lines) else ""
        try:
            coordinates = [float(line[k:k + 10]) for k in (0, 10, 20)]
        except ValueError:
            return number, f"expected atom line {number - 4} of the {count} declared on line 4, got {line!r}"
        if not np.isfinite(coordinates).all():
            return number, "non-finite coordinate"
        symbol = line[31:34].strip()
        if atomic_numbers.get(symbol, 0) == 0:
            return number, f"unknown element {symbol!r}"
    return None


def _read_sdf(path: Path, text: str) -> list[AtomsRecord]:
    lines = text.splitlines()
    ends = [i for i, line in enumerate(lines) if line.startswith("$$$$")]
    starts = [0, *(end + 1 for end in ends)]
    starts = [start for start in starts if any(line.strip() for line in lines[start:start + 4])]
    supplier = Chem.SDMolSupplier()
    supplier.SetData(text, sanitize=False, removeHs=False, strictParsing=True)
    records = []
    with rdBase.BlockLogs():
        molecules = list(supplier)
    if len(molecules) != len(starts):
        raise DataError(f"found {len(starts)} molecule block(s) but RDKit read {len(molecules)}", source=path)
    for start, molecule in zip(starts, molecules, strict=True):
        if molecule is None:
            located = _molblock_problem(lines[start:])
            if located is None:
                raise DataError("RDKit could not parse this molecule", source=path, field=f"line {start + 1}")
            raise DataError(located[1], source=path, field=f"line {start + located[0]}")
        species = torch.tensor([atom.GetAtomicNum() for atom in molecule.GetAtoms()], dtype=torch.long)
        pos = torch.from_numpy(molecule.GetConformer().GetPositions().astype(np.float64))
        bad = (~pos.isfinite().all(dim=1) | (species == 0)).nonzero()
        if bad.numel():
            raise DataError("unknown element or non-finite coordinate", source=path,
                            field=f"line {start + 5 + int(bad[0])}")
        properties = {name: float(value) for name, value in molecule.GetPropsAsDict().items()
                      if isinstance(value, (int, float)) and not isinstance(value, bool)}
        records.append(AtomsRecord(species=species, pos=pos, name=molecule.GetProp("_Name"),
                                   properties=properties))
    return records
