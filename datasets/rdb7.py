"""RDB7 reactions (Spiekermann, Pattanaik & Green, Sci. Data 9, 417, 2022): reactant, TS and product.

The folder (see its README) holds ``reactions.csv`` (rxn_id, atom-mapped reaction SMILES, CCSD(T)-F12
barrier dE0 in kcal/mol, n_atoms) and three extended-XYZ files ``reactants.xyz``, ``ts.xyz``,
``products.xyz`` whose frame k is row k of the CSV. Every reaction is checked: the frames carry the
CSV's rxn_id and the file's role, the three frames have the same atom count and element order, and that
order is the SMILES atom-map order (atom with map number m is frame atom m - 1). Charge is the sum of
formal charges of the reactant SMILES; multiplicity is 1 + its number of radical electrons (both must
agree with the product side). A reaction failing a check is skipped and reported as a
:class:`SkippedReaction`; ``strict=True`` raises :class:`DataError` naming file and record instead.

Parsed tables are cached in ``~/.cache/genforge`` under the SHA-256 of the four files.
"""

from __future__ import annotations

import csv
import hashlib
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from genforge.core.errors import DataError

KCAL_PER_MOL_PER_EV = 23.0605
"""1 eV in kcal/mol; energies are eV internally and kcal/mol only in reports."""

FILES = {"r": "reactants.xyz", "ts": "ts.xyz", "p": "products.xyz"}
CSV_NAME = "reactions.csv"
_CACHE_FORMAT = 1
_ELEMENTS = ("H", "He", "Li", "Be", "B", "C", "N", "O", "F", "Ne", "Na", "Mg", "Al", "Si", "P", "S", "Cl",
             "Ar", "K", "Ca", "Sc", "Ti", "V", "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As",
             "Se", "Br", "Kr", "Rb", "Sr", "Y", "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In",
             "Sn", "Sb", "Te", "I", "Xe")
_ATOMIC_NUMBER = {symbol: z for z, symbol in enumerate(_ELEMENTS, start=1)}


@dataclass(frozen=True)
class Reaction:
    """One reaction. Positions in Angstrom, atom i is the same atom in the three frames.

    Shapes: ``species [N]`` (atomic numbers), ``pos_reactant``, ``pos_ts``, ``pos_product [N, 3]``.
    """

    species: Tensor
    pos_reactant: Tensor
    pos_ts: Tensor
    pos_product: Tensor
    rxn_id: int
    charge: int
    multiplicity: int
    barrier: float
    """CCSD(T)-F12/cc-pVDZ-F12 forward barrier dE0 in eV."""


@dataclass(frozen=True)
class ReactionBatch:
    """Reactions flattened into one graph batch; also a map-style dataset of :class:`Reaction`.

    Shapes: ``species [N]``, ``pos_* [N, 3]`` (Angstrom), ``batch [N]`` (sorted reaction index),
    ``ptr [B + 1]`` (atom offsets), ``rxn_id``, ``charge``, ``multiplicity [B]`` (long), ``barrier [B]`` (eV).
    """

    species: Tensor
    pos_reactant: Tensor
    pos_ts: Tensor
    pos_product: Tensor
    batch: Tensor
    ptr: Tensor
    rxn_id: Tensor
    charge: Tensor
    multiplicity: Tensor
    barrier: Tensor

    def __len__(self) -> int:
        return self.rxn_id.shape[0]

    def __getitem__(self, index: int) -> Reaction:
        if not -len(self) <= index < len(self):
            raise IndexError(f"reaction {index} of a batch of {len(self)}")
        index %= len(self)
        atoms = slice(int(self.ptr[index]), int(self.ptr[index + 1]))
        return Reaction(self.species[atoms], self.pos_reactant[atoms], self.pos_ts[atoms],
                        self.pos_product[atoms], int(self.rxn_id[index]), int(self.charge[index]),
                        int(self.multiplicity[index]), float(self.barrier[index]))

    def __iter__(self) -> Iterator[Reaction]:
        return (self[index] for index in range(len(self)))

    def select(self, indices: Tensor) -> ReactionBatch:
        """The reactions ``indices [K]`` (in that order) as a new batch."""
        counts = (self.ptr[1:] - self.ptr[:-1])[indices]
        atoms = _segment_gather(self.ptr[indices], counts)
        return ReactionBatch(self.species[atoms], self.pos_reactant[atoms], self.pos_ts[atoms],
                             self.pos_product[atoms], _batch_index(counts), _offsets(counts),
                             self.rxn_id[indices], self.charge[indices], self.multiplicity[indices],
                             self.barrier[indices])


@dataclass(frozen=True)
class SkippedReaction:
    """A record left out of the data set, with the file and 0-based record index at fault."""

    rxn_id: int
    file: str
    record: int
    reason: str

    def to_error(self) -> DataError:
        return DataError(self.reason, source=self.file, field=f"record {self.record} (rxn_id {self.rxn_id})")


@dataclass(frozen=True)
class Rdb7:
    """All reactions that passed the checks, the ones skipped, and the folder they came from."""

    reactions: ReactionBatch
    skipped: tuple[SkippedReaction, ...]
    root: Path


@dataclass(frozen=True)
class ReactionSplit:
    """Indices ``[K]`` into :attr:`Rdb7.reactions` of the train and validation reactions."""

    train: Tensor
    val: Tensor


def collate_reactions(reactions: Sequence[Reaction]) -> ReactionBatch:
    """Concatenate reactions into a :class:`ReactionBatch` (``collate_fn`` for a DataLoader)."""
    counts = torch.tensor([r.species.shape[0] for r in reactions])
    return ReactionBatch(
        torch.cat([r.species for r in reactions]), torch.cat([r.pos_reactant for r in reactions]),
        torch.cat([r.pos_ts for r in reactions]), torch.cat([r.pos_product for r in reactions]),
        _batch_index(counts), _offsets(counts), torch.tensor([r.rxn_id for r in reactions]),
        torch.tensor([r.charge for r in reactions]), torch.tensor([r.multiplicity for r in reactions]),
        torch.tensor([r.barrier for r in reactions], dtype=torch.float64))


def split_reactions(rxn_id: Tensor, *, val_fraction: float = 0.1, seed: int = 0) -> ReactionSplit:
    """Random split by reaction: the ``round(val_fraction * B)`` reactions with the smallest keys are val.

    Each rxn_id gets a fixed uniform key drawn from ``seed`` (key = U[rxn_id]), so a reaction's split does
    not depend on file order, and removing one reaction moves at most one other across the boundary.
    """
    keys = torch.rand(int(rxn_id.max()) + 1, generator=torch.Generator().manual_seed(seed),
                      dtype=torch.float64)[rxn_id]
    order = torch.argsort(keys)
    num_val = round(val_fraction * rxn_id.shape[0])
    return ReactionSplit(train=torch.sort(order[num_val:]).values, val=torch.sort(order[:num_val]).values)


def default_root() -> Path:
    """``$GENFORGE_DATA/rdb7`` if set, else ``../shared/data/rdb7`` next to the repository."""
    data = os.environ.get("GENFORGE_DATA")
    base = Path(data) if data else Path(__file__).resolve().parents[2] / "shared" / "data"
    return base / "rdb7"


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/genforge``, by default ``~/.cache/genforge``."""
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "genforge"


def load_rdb7(root: str | Path | None = None, *, strict: bool = False,
              cache_dir: str | Path | None = None, use_cache: bool = True) -> Rdb7:
    """Read, check and tensorise the RDB7 folder (parsed once, then read from the cache).

    Args:
        root: folder with reactions.csv and the three .xyz files (default :func:`default_root`).
        strict: raise on the first record that fails a check instead of skipping it.
        cache_dir: where parsed tables are kept (default :func:`default_cache_dir`).
        use_cache: read and write the cache.

    Raises:
        DataError: a file is missing, a file's framing is broken, the files disagree on the number of
            records, or (``strict``) any record fails a check.
    """
    root = Path(root) if root is not None else default_root()
    paths = [root / CSV_NAME, *(root / name for name in FILES.values())]
    for path in paths:
        if not path.is_file():
            raise DataError("file not found (expected reactions.csv, reactants.xyz, ts.xyz, products.xyz)",
                            source=path)
    digest = hashlib.sha256(b"".join(hashlib.sha256(p.read_bytes()).digest() for p in paths)).hexdigest()
    cache = Path(cache_dir or default_cache_dir()) / f"rdb7-v{_CACHE_FORMAT}-{digest[:20]}.pt"
    if use_cache and cache.is_file():
        reactions, skipped = _from_state(torch.load(cache, weights_only=True))
    else:
        reactions, skipped = _parse(root)
        if use_cache:
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_suffix(f".{os.getpid()}.tmp")
            torch.save(_to_state(reactions, skipped), partial)
            partial.replace(cache)
    if strict and skipped:
        raise skipped[0].to_error()
    return Rdb7(reactions, tuple(skipped), root)


def _to_state(reactions: ReactionBatch, skipped: list[SkippedReaction]) -> dict:
    state = {f.name: getattr(reactions, f.name) for f in fields(ReactionBatch)}
    state["skipped"] = [[s.rxn_id, s.file, s.record, s.reason] for s in skipped]
    return state


def _from_state(state: dict) -> tuple[ReactionBatch, list[SkippedReaction]]:
    skipped = [SkippedReaction(int(i), str(f), int(k), str(r)) for i, f, k, r in state.pop("skipped")]
    return ReactionBatch(**state), skipped


def _offsets(counts: Tensor) -> Tensor:
    return torch.cat([counts.new_zeros(1), counts.cumsum(0)])


def _batch_index(counts: Tensor) -> Tensor:
    return torch.repeat_interleave(torch.arange(counts.shape[0]), counts)


def _segment_gather(starts: Tensor, counts: Tensor) -> Tensor:
    """Flat indices of the segments ``[starts[k], starts[k] + counts[k])``, concatenated."""
    local = torch.arange(int(counts.sum())) - torch.repeat_interleave(_offsets(counts)[:-1], counts)
    return torch.repeat_interleave(starts, counts) + local


@dataclass(frozen=True)
class _Frames:
    """One extxyz file, flattened: ``counts, rxn_id [M]`` (-1 = no rxn_id), ``role`` (M strings),
    ``species [A]`` (0 = unknown symbol), ``positions [A, 3]`` (NaN = unparsable), ``first_line [M]``
    (1-based line number of each record's count line)."""

    path: Path
    counts: Tensor
    rxn_id: Tensor
    role: list[str]
    species: Tensor
    positions: Tensor
    first_line: Tensor
    bad_line: Tensor
    """``[A]`` bool: the atom line does not read ``symbol x y z`` with a known element and finite numbers."""


_COMMENT = re.compile(r"rxn_id=(\d+)\s+role=(\w+)")


def _read_frames(path: Path) -> _Frames:
    """Frame the file by its count lines (a broken count line raises), then parse all atom lines at once."""
    lines = path.read_text().rstrip().splitlines()
    headers: list[int] = []
    counts: list[int] = []
    line = 0
    while line < len(lines):
        text = lines[line].strip()
        if not text.isdigit() or int(text) == 0 or line + 1 + int(text) >= len(lines):
            raise DataError(f"expected a positive atom count, a comment and that many atom lines, got "
                            f"{lines[line]!r}", source=path, field=f"record {len(headers)} (line {line + 1})")
        headers.append(line)
        counts.append(int(text))
        line += int(text) + 2
    count_tensor = torch.tensor(counts)
    atom_lines = _segment_gather(torch.tensor(headers) + 2, count_tensor).numpy()
    tokens = [lines[i].split() for i in atom_lines]
    well_formed = np.fromiter((len(t) == 4 for t in tokens), dtype=bool, count=len(tokens))
    table = np.array([t if len(t) == 4 else ["?", "nan", "nan", "nan"] for t in tokens], dtype=str)
    symbols, inverse = np.unique(table[:, 0], return_inverse=True)
    species = np.array([_ATOMIC_NUMBER.get(s, 0) for s in symbols], dtype=np.int64)[inverse.reshape(-1)]
    positions = _floats(table[:, 1:])
    comments = [_COMMENT.search(lines[h + 1]) for h in headers]
    return _Frames(
        path, count_tensor, torch.tensor([int(m[1]) if m else -1 for m in comments]),
        [m[2] if m else "" for m in comments], torch.from_numpy(species), torch.from_numpy(positions),
        torch.tensor(headers) + 1,
        torch.from_numpy(~well_formed | (species == 0) | ~np.isfinite(positions).all(-1)))


def _floats(strings: np.ndarray) -> np.ndarray:
    """Parse a string array to float64; entries that are not numbers become NaN."""
    try:
        return strings.astype(np.float64)
    except ValueError:
        def parse(text: str) -> float:
            try:
                return float(text)
            except ValueError:
                return float("nan")
        return np.vectorize(parse, otypes=[np.float64])(strings)


@dataclass(frozen=True)
class _Row:
    rxn_id: int
    species: list[int]
    charge: int
    multiplicity: int
    barrier_kcal: float
    problem: str


def _read_csv(path: Path) -> list[_Row]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"rxn_id", "smiles", "dE0", "n_atoms"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"missing columns {sorted(missing)}", source=path, field="header")
        return [_parse_row(row) for row in reader]


def _parse_row(row: dict[str, str]) -> _Row:
    """Check one CSV row; species/charge/multiplicity come from the atom-mapped reaction SMILES (RDKit)."""
    if not row["rxn_id"].isdigit():
        return _Row(-1, [], 0, 1, float("nan"), f"rxn_id {row['rxn_id']!r} is not a non-negative integer")
    rxn_id = int(row["rxn_id"])
    try:
        barrier = float(row["dE0"])
    except ValueError:
        barrier = float("nan")
    if not math.isfinite(barrier):
        return _Row(rxn_id, [], 0, 1, barrier, f"dE0 {row['dE0']!r} is not a finite number")
    params = Chem.SmilesParserParams()
    params.removeHs, params.sanitize = False, False
    sides = []
    for smiles in row["smiles"].split(">>"):
        mol = Chem.MolFromSmiles(smiles, params)
        if mol is None:
            return _Row(rxn_id, [], 0, 1, barrier, f"unreadable SMILES {smiles!r}")
        mol.UpdatePropertyCache(strict=False)
        atoms = np.array([(atom.GetAtomMapNum(), atom.GetAtomicNum(), atom.GetFormalCharge(),
                           atom.GetNumRadicalElectrons())
                          for atom in map(mol.GetAtomWithIdx, range(mol.GetNumAtoms()))]).reshape(-1, 4)
        atoms = atoms[np.argsort(atoms[:, 0], kind="stable")]
        sides.append((atoms[:, 1].tolist(), atoms[:, 0].tolist(), int(atoms[:, 2].sum()),
                      int(atoms[:, 3].sum())))
    if len(sides) != 2:
        return _Row(rxn_id, [], 0, 1, barrier, "reaction SMILES must read 'reactants>>products'")
    (species, maps, charge, radicals), (species_p, _, charge_p, radicals_p) = sides
    problem = ""
    if maps != list(range(1, len(maps) + 1)):
        problem = "SMILES atom maps are not 1..n (unmapped or repeated atoms)"
    elif species != species_p:
        problem = "reactant and product SMILES map different elements to the same map number"
    elif (charge, radicals) != (charge_p, radicals_p):
        problem = "reactant and product SMILES differ in total charge or radical electrons"
    elif not row["n_atoms"].isdigit() or int(row["n_atoms"]) != len(species):
        problem = f"n_atoms {row['n_atoms']!r} differs from the {len(species)} atoms of the SMILES"
    return _Row(rxn_id, species, charge, radicals + 1, barrier, problem)


def _parse(root: Path) -> tuple[ReactionBatch, list[SkippedReaction]]:
    """Read the four files and keep the records that pass every check (first failure per record reported)."""
    rows = _read_csv(root / CSV_NAME)
    frames = {role: _read_frames(root / name) for role, name in FILES.items()}
    for frame in frames.values():
        if frame.counts.shape[0] != len(rows):
            raise DataError(f"has {frame.counts.shape[0]} records but {CSV_NAME} has {len(rows)} rows; "
                            f"record k of every file must be row k of the CSV", source=frame.path)
    problems: dict[int, tuple[str, str]] = {k: (str(root / CSV_NAME), row.problem)
                                            for k, row in enumerate(rows) if row.problem}
    csv_ids = torch.tensor([row.rxn_id for row in rows])
    counts = torch.tensor([len(row.species) for row in rows])
    for role, frame in frames.items():
        _check_header(frame, role, csv_ids, counts, problems)
    mapped_ok = torch.tensor([k not in problems for k in range(len(rows))])
    mapped = torch.tensor([z for k in torch.nonzero(mapped_ok).flatten().tolist() for z in rows[k].species],
                          dtype=torch.long)
    for frame in frames.values():
        _check_species(frame, torch.nonzero(mapped_ok).flatten(), counts[mapped_ok], mapped, problems)
    keep = torch.tensor([k for k in range(len(rows)) if k not in problems], dtype=torch.long)
    kept_counts = counts[keep]
    atoms = {role: _segment_gather(_offsets(frame.counts)[:-1][keep], kept_counts)
             for role, frame in frames.items()}
    kept_rows = [rows[k] for k in keep.tolist()]
    reactions = ReactionBatch(
        frames["r"].species[atoms["r"]], *(frames[role].positions[atoms[role]] for role in FILES),
        _batch_index(kept_counts), _offsets(kept_counts), csv_ids[keep],
        torch.tensor([row.charge for row in kept_rows], dtype=torch.long),
        torch.tensor([row.multiplicity for row in kept_rows], dtype=torch.long),
        torch.tensor([row.barrier_kcal for row in kept_rows], dtype=torch.float64) / KCAL_PER_MOL_PER_EV)
    skipped = [SkippedReaction(int(csv_ids[k]), file, k, reason)
               for k, (file, reason) in sorted(problems.items())]
    return reactions, skipped


def _check_header(frame: _Frames, role: str, csv_ids: Tensor, counts: Tensor,
                  problems: dict[int, tuple[str, str]]) -> None:
    """Flag records whose atom lines are malformed or whose rxn_id, role or atom count disagree."""
    ptr = _offsets(frame.counts)
    bad_lines = torch.zeros_like(frame.counts).index_add_(0, _batch_index(frame.counts),
                                                          frame.bad_line.long())
    wrong_role = torch.tensor([r != role for r in frame.role])
    for k in torch.nonzero((bad_lines > 0) | (frame.rxn_id != csv_ids) | wrong_role | (frame.counts != counts)
                           ).flatten().tolist():
        if bad_lines[k]:
            line = int(frame.first_line[k]) + 2 + int(torch.nonzero(frame.bad_line[ptr[k]:ptr[k + 1]])[0])
            reason = f"line {line} does not read 'symbol x y z' with a known element and finite coordinates"
        elif frame.rxn_id[k] != csv_ids[k]:
            reason = f"comment rxn_id {int(frame.rxn_id[k])} differs from the CSV row's {int(csv_ids[k])}"
        elif wrong_role[k]:
            reason = f"comment role {frame.role[k]!r} is not {role!r}"
        else:
            reason = f"{int(frame.counts[k])} atoms but the reaction SMILES has {int(counts[k])}"
        problems.setdefault(k, (str(frame.path), reason))


def _check_species(frame: _Frames, records: Tensor, counts: Tensor, mapped: Tensor,
                   problems: dict[int, tuple[str, str]]) -> None:
    """Flag records whose element order differs from the SMILES atom-map order ``mapped [A]``."""
    atoms = _segment_gather(_offsets(frame.counts)[:-1][records], counts)
    differs = frame.species[atoms] != mapped
    per_record = torch.zeros_like(counts).index_add_(0, _batch_index(counts), differs.long())
    starts = _offsets(counts)
    for j in torch.nonzero(per_record).flatten().tolist():
        atom = int(torch.nonzero(differs[starts[j]:starts[j + 1]])[0])
        symbol = _ELEMENTS[int(frame.species[atoms[starts[j] + atom]]) - 1]
        expected = _ELEMENTS[int(mapped[starts[j] + atom]) - 1]
        problems.setdefault(int(records[j]), (str(frame.path), f"atom {atom} is {symbol} but atom map "
                                                               f"{atom + 1} of the SMILES is {expected}"))
