"""Crystals in the CDVAE CSV format (perov_5, carbon_24, mp_20, ...) -> ``AtomsDataset``.

Format (Xie et al. 2022, CDVAE): one row per structure with columns ``material_id``, ``cif`` (a P1 CIF
string written by pymatgen) and property columns (e.g. ``heat_ref`` eV, ``energy_per_atom`` eV,
``formation_energy_per_atom`` eV/atom, ``band_gap`` eV); a leading unnamed pandas index is ignored.
Numeric columns become ``properties`` (float64, units as in the file), the others ``strings``.

Each CIF is canonicalised as CDVAE does (``genforge.datasets.cif``: Niggli-reduced, not primitive by
default, lattice rebuilt from its parameters, coordinates wrapped to [0, 1)). Rows that cannot be used
are skipped and listed in ``dataset.skipped`` (row, material_id, reason) with a logged count; with
``strict=True`` the first one raises ``DataError`` naming the file, row, material_id and CIF line.
Parsed files are cached (``genforge.datasets.storage``) keyed by the file's SHA-256 and the options.

Splits: only ``train.csv`` / ``val.csv`` (or a ``sample.csv``) are ever read by ``load_crystals``; a
``test.csv`` is never opened. Where ``train.csv`` is absent (this checkout ships only perov_5 and
carbon_24 ``val.csv`` and an mp_20 ``sample.csv``) the available file is split into train / val by a
seeded permutation of its rows.
"""

from __future__ import annotations

import csv
import functools
import logging
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor

from genforge.core.errors import DataError
from genforge.core.geometry.lattice import frac_to_cart, lattice_params_to_matrix
from genforge.datasets.atoms_dataset import AtomsDataset, SkippedRow
from genforge.datasets.cif import CrystalArrays, parse_cif_row
from genforge.datasets.storage import cache_dir, data_root, file_digest, load_cache, require_file, save_cache

LOGGER = logging.getLogger(__name__)
CACHE_VERSION = 2  # 2: stricter CSV (truncated rows) and CIF (negative lengths) checks
REQUIRED_COLUMNS = ("material_id", "cif")
# Below this many rows, worker start-up costs more than it saves.
MIN_ROWS_FOR_WORKERS = 256
POOL_FILES = ("val.csv", "sample.csv")


def read_crystal_csv(path: str | Path, *, niggli: bool = True, primitive: bool = False, strict: bool = False,
                     workers: int = 2, cache: bool = True) -> AtomsDataset:
    """Parse a CDVAE-format CSV into an ``AtomsDataset`` (crystals: frac, cell, pos, species).

    Args:
        path: the CSV file.
        niggli, primitive: CDVAE's canonicalisation options (its datasets use niggli=True, primitive=False).
        strict: raise ``DataError`` on the first unusable row instead of skipping it.
        workers: processes parsing CIFs in parallel (1 = in this process).
        cache: read / write the parsed result in the cache folder.
    """
    path = require_file(path, "pass the CSV path, or set GENFORGE_DATA to the data root")
    cache_path = None
    if cache:
        digest = file_digest([path])[:20]
        options = f"n{int(niggli)}p{int(primitive)}v{CACHE_VERSION}"
        cache_path = cache_dir() / "crystals" / f"{path.parent.name}_{path.stem}-{digest}-{options}.pt"
        payload = load_cache(cache_path)
        if payload is not None:
            dataset = AtomsDataset.from_payload(payload)
            _report_skipped(path, dataset.skipped, strict)
            return dataset
    header, rows = _read_rows(path)
    parse = functools.partial(parse_cif_row, niggli=niggli, primitive=primitive)
    texts = [row["cif"] for row in rows]
    if workers > 1 and len(rows) >= MIN_ROWS_FOR_WORKERS:
        with ProcessPoolExecutor(workers, mp_context=_worker_context()) as pool:
            results = list(pool.map(parse, texts, chunksize=max(1, len(texts) // (8 * workers))))
    else:
        results = [parse(text) for text in texts]
    dataset = _assemble(path, header, rows, results)
    _report_skipped(path, dataset.skipped, strict)
    if cache_path is not None:
        save_cache(cache_path, dataset.to_payload())
    return dataset


def load_crystals(name: str, split: Literal["train", "val"] = "train", *, root: str | Path | None = None,
                  val_fraction: float = 0.1, seed: int = 0, niggli: bool = True, primitive: bool = False,
                  strict: bool = False, workers: int = 2, cache: bool = True) -> AtomsDataset:
    """The ``split`` of the dataset folder ``<data root>/<name>`` (e.g. ``perov_5``).

    With ``train.csv`` present, train / val are ``train.csv`` / ``val.csv``. Otherwise the single available
    file (``val.csv``, else ``sample.csv``) is split by ``split_rows(num_rows, val_fraction, seed)``.
    """
    if split not in ("train", "val"):
        raise DataError(f"unknown split {split!r}; expected 'train' or 'val'", field="split")
    folder = data_root(root) / name
    options = {"niggli": niggli, "primitive": primitive, "strict": strict, "workers": workers, "cache": cache}
    if (folder / "train.csv").is_file():
        return read_crystal_csv(folder / f"{split}.csv", **options)
    pool = next((folder / file for file in POOL_FILES if (folder / file).is_file()), None)
    if pool is None:
        raise DataError(f"no train.csv, val.csv or sample.csv in this folder; set GENFORGE_DATA or root= "
                        f"to the folder holding {name}/", source=folder)
    dataset = read_crystal_csv(pool, **options)
    num_rows = len(dataset) + len(dataset.skipped)
    train_rows, val_rows = split_rows(num_rows, val_fraction, seed)
    chosen = train_rows if split == "train" else val_rows
    return dataset.subset(torch.isin(dataset.source_rows, chosen).nonzero().squeeze(1))


def split_rows(num_rows: int, val_fraction: float, seed: int) -> tuple[Tensor, Tensor]:
    """Sorted row indices ``(train, val)``: a seeded permutation, the first round(val_fraction * n) to val."""
    if not 0.0 <= val_fraction < 1.0:
        raise DataError(f"val_fraction must be in [0, 1), got {val_fraction}", field="val_fraction")
    permutation = torch.randperm(num_rows, generator=torch.Generator().manual_seed(seed))
    num_val = round(val_fraction * num_rows)
    return permutation[num_val:].sort().values, permutation[:num_val].sort().values


def _worker_context() -> multiprocessing.context.BaseContext:
    """``fork`` where available (as torch's DataLoader; no re-import of the caller's script), else spawn."""
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    return multiprocessing.get_context(method)


def _read_rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """Header and rows; each row also gets ``_lines`` = 'a-b', the file lines it spans."""
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle, strict=True)
            header = list(reader.fieldnames or [])
            missing = [column for column in REQUIRED_COLUMNS if column not in header]
            if missing:
                raise DataError(f"missing column(s) {missing}; a CDVAE CSV needs {list(REQUIRED_COLUMNS)}",
                                source=path, field="header (line 1)")
            first_line = 2
            for row in reader:
                if None in row.values() or None in row:
                    raise DataError(f"row has {len(row) - (None in row)} field(s) where the header has {len(header)} "
                                    "(truncated or mis-quoted?)", source=path, field=f"line {first_line}")
                row["_lines"] = f"{first_line}-{reader.line_num}"
                first_line = reader.line_num + 1
                rows.append(row)
    except csv.Error as error:
        raise DataError(f"CSV syntax error: {error}", source=path, field=f"line {reader.line_num}") from None
    except UnicodeDecodeError as error:
        raise DataError(f"not a UTF-8 text file (binary data at byte {error.start})", source=path) from None
    return header, rows


def _assemble(path: Path, header: list[str], rows: list[dict[str, str]],
              results: list[CrystalArrays | tuple[str, int | None]]) -> AtomsDataset:
    """Concatenate the parsed rows; unusable ones go to ``skipped`` with their location."""
    kept = [i for i, result in enumerate(results) if isinstance(result, CrystalArrays)]
    skipped = [SkippedRow(i, rows[i]["material_id"], _location(rows[i], *results[i]))
               for i, result in enumerate(results) if not isinstance(result, CrystalArrays)]
    if not kept:
        detail = f"; first: row {skipped[0].row} {skipped[0].reason}" if skipped else ""
        raise DataError(f"no usable structure in {len(rows)} row(s){detail}", source=path)
    arrays = [results[i] for i in kept]
    num_atoms = torch.tensor([len(item.species) for item in arrays], dtype=torch.long)
    species = torch.from_numpy(np.concatenate([item.species for item in arrays]))
    frac = torch.from_numpy(np.concatenate([item.frac for item in arrays]))
    lengths = torch.from_numpy(np.stack([item.lengths for item in arrays]))
    angles = torch.from_numpy(np.stack([item.angles for item in arrays]))
    cell = lattice_params_to_matrix(lengths, angles)
    graph = torch.repeat_interleave(torch.arange(len(kept)), num_atoms)
    properties, strings = {}, {}
    for column in header:
        if column in ("", *REQUIRED_COLUMNS):
            continue
        values = [rows[i][column] for i in kept]
        numbers = _as_floats(values)
        if numbers is None:
            strings[column] = values
        else:
            properties[column] = torch.tensor(numbers, dtype=torch.float64)
    return AtomsDataset(species=species, pos=frac_to_cart(frac, cell, graph), num_atoms=num_atoms,
                        source_rows=torch.tensor(kept, dtype=torch.long),
                        names=[rows[i]["material_id"] for i in kept], frac=frac, cell=cell,
                        properties=properties, strings=strings, skipped=skipped)


def _location(row: dict[str, str], reason: str, line: int | None) -> str:
    where = f"file lines {row['_lines']}, column 'cif'" + ("" if line is None else f" line {line}")
    return f"{where}: {reason}"


def _as_floats(values: list[str]) -> list[float] | None:
    try:
        return [float(value) for value in values]
    except ValueError:
        return None


def _report_skipped(path: Path, skipped: Sequence[SkippedRow], strict: bool) -> None:
    if not skipped:
        return
    first = skipped[0]
    if strict:
        raise DataError(first.reason, source=path, field=f"row {first.row} (material_id {first.name})")
    LOGGER.warning("%s: skipped %d unusable row(s), first: row %d (material_id %s) %s",
                   path, len(skipped), first.row, first.name, first.reason)
