"""CDVAE CSV loader: CDVAE-equal canonicalisation, skip-and-report vs strict, cache, splits, real data."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from pymatgen.core import Lattice, Structure

from genforge.core.errors import DataError
from genforge.core.geometry.lattice import cell_volume, frac_to_cart, wrap_frac
from genforge.datasets import crystals
from genforge.datasets.crystals import load_crystals, read_crystal_csv, split_rows
from genforge.datasets.storage import data_root

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "materials"
PEROV_VAL = data_root() / "perov_5" / "val.csv"


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))


def _cdvae_build_crystal(cif: str) -> Structure:
    """CDVAE's build_crystal(niggli=True, primitive=False), written out with pymatgen as the reference."""
    crystal = Structure.from_str(cif, fmt="cif").get_reduced_structure()
    return Structure(lattice=Lattice.from_parameters(*crystal.lattice.parameters), species=crystal.species,
                     coords=crystal.frac_coords, coords_are_cartesian=False)


def test_matches_cdvae_build_crystal() -> None:
    dataset = read_crystal_csv(FIXTURES / "cdvae_tiny.csv", workers=1, cache=False)
    with open(FIXTURES / "cdvae_tiny.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(dataset) == 3 and dataset.names == [row["material_id"] for row in rows]
    for record, row in zip(dataset, rows, strict=True):
        reference = _cdvae_build_crystal(row["cif"])
        assert record.species.tolist() == list(reference.atomic_numbers)
        np.testing.assert_allclose(record.cell.numpy(), reference.lattice.matrix, atol=1e-10)
        np.testing.assert_allclose(record.frac.numpy(), reference.frac_coords % 1.0, atol=1e-10)
        torch.testing.assert_close(record.pos, frac_to_cart(record.frac, record.cell))
        assert record.properties["heat_ref"] == pytest.approx(float(row["heat_ref"]))
    assert dataset.strings["formula"] == [row["formula"] for row in rows]
    assert not dataset.skipped


def test_batch_mode_skips_and_reports_each_bad_row() -> None:
    dataset = read_crystal_csv(FIXTURES / "cdvae_malformed.csv", workers=1, cache=False)
    assert dataset.source_rows.tolist() == [0, 2, 6]
    reasons = {row.name: (row.row, row.reason) for row in dataset.skipped}
    assert len(dataset.skipped) == 4
    assert reasons["bad-garbage"][0] == 1 and "no data_ block" in reasons["bad-garbage"][1]
    assert "zero-volume" in reasons["bad-zero-volume"][1] and "line 7" in reasons["bad-zero-volume"][1]
    assert "_atom_site_fract_x = 'nan'" in reasons["bad-nan"][1]
    assert "unknown element 'Xx'" in reasons["bad-element"][1]
    assert "file lines 100-131" in reasons["bad-nan"][1]


def test_worker_processes_give_the_serial_result(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(crystals, "MIN_ROWS_FOR_WORKERS", 1)
    serial = read_crystal_csv(FIXTURES / "cdvae_malformed.csv", workers=1, cache=False)
    parallel = read_crystal_csv(FIXTURES / "cdvae_malformed.csv", workers=2, cache=False)
    assert torch.equal(serial.frac, parallel.frac) and torch.equal(serial.cell, parallel.cell)
    assert serial.skipped == parallel.skipped


def test_strict_mode_names_file_row_and_material_id() -> None:
    with pytest.raises(DataError) as caught:
        read_crystal_csv(FIXTURES / "cdvae_malformed.csv", strict=True, workers=1, cache=False)
    message = str(caught.value)
    assert "cdvae_malformed.csv" in message and "row 1" in message and "bad-garbage" in message


def test_missing_cif_column_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("material_id,structure\n1,abc\n")
    with pytest.raises(DataError, match="missing column"):
        read_crystal_csv(path, workers=1)


def test_cache_is_reused_and_strict_still_raises(tmp_path: Path) -> None:
    first = read_crystal_csv(FIXTURES / "cdvae_malformed.csv", workers=1)
    cached = list((tmp_path / "cache" / "crystals").glob("*.pt"))
    assert len(cached) == 1
    cached[0].touch()
    second = read_crystal_csv(FIXTURES / "cdvae_malformed.csv", workers=1)
    assert torch.equal(first.pos, second.pos) and second.skipped == first.skipped
    with pytest.raises(DataError, match="row 1"):
        read_crystal_csv(FIXTURES / "cdvae_malformed.csv", strict=True, workers=1)


def test_split_rows_is_a_seeded_partition() -> None:
    train, val = split_rows(100, 0.1, seed=0)
    assert val.numel() == 10 and train.numel() == 90
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(100))
    again_train, _ = split_rows(100, 0.1, seed=0)
    other_train, _ = split_rows(100, 0.1, seed=1)
    assert torch.equal(train, again_train) and not torch.equal(train, other_train)


def test_load_crystals_splits_the_available_file(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "toy"
    folder.mkdir(parents=True)
    shutil.copy(FIXTURES / "cdvae_malformed.csv", folder / "val.csv")
    (folder / "test.csv").write_text("never read\n")
    train = load_crystals("toy", "train", root=tmp_path / "data", val_fraction=0.3, workers=1)
    val = load_crystals("toy", "val", root=tmp_path / "data", val_fraction=0.3, workers=1)
    _, val_rows = split_rows(7, 0.3, seed=0)
    assert set(val.source_rows.tolist()) == set(val_rows.tolist()) & {0, 2, 6}
    assert sorted(train.source_rows.tolist() + val.source_rows.tolist()) == [0, 2, 6]
    shutil.copy(FIXTURES / "cdvae_tiny.csv", folder / "train.csv")
    assert len(load_crystals("toy", "train", root=tmp_path / "data", workers=1)) == 3
    assert len(load_crystals("toy", "val", root=tmp_path / "data", workers=1)) == 3
    with pytest.raises(DataError, match=r"no train\.csv"):
        load_crystals("absent", root=tmp_path / "data")


@pytest.mark.skipif(not PEROV_VAL.is_file(), reason=f"perov_5 not found at {PEROV_VAL} (set GENFORGE_DATA)")
def test_perov_5_first_rows(tmp_path: Path) -> None:
    with open(PEROV_VAL, newline="") as handle:
        reader = csv.reader(handle)
        rows = [next(reader) for _ in range(51)]
    head = tmp_path / "perov_head.csv"
    with open(head, "w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    dataset = read_crystal_csv(head, workers=1)
    assert len(dataset) == 50 and not dataset.skipped
    assert bool((dataset.num_atoms == 5).all())
    volumes = cell_volume(dataset.cell)
    assert bool((volumes > 30.0).all() and (volumes < 300.0).all())
    assert torch.equal(dataset.frac, wrap_frac(dataset.frac))
    batch = dataset.batch(torch.arange(50))
    assert batch.pos.dtype == torch.float32 and batch.num_graphs == 50
