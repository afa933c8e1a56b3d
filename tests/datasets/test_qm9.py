"""QM9 from qm9pack: vectorised parsing, bad rows, unit conversion, EDM split sizes and determinism."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from genforge.core.errors import DataError
from genforge.datasets.qm9 import (
    EDM_SPLIT_SIZES,
    HARTREE_EV,
    QM9_NUM_MOLECULES,
    edm_split,
    qm9pack_files,
    read_qm9_csv,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "materials" / "qm9_tiny.csv"
HAS_QM9PACK = importlib.util.find_spec("qm9pack") is not None


def test_fixture_parses_good_rows_and_reports_bad_ones() -> None:
    dataset = read_qm9_csv([FIXTURE])
    assert dataset.names == ["1", "2", "3"] and dataset.num_atoms.tolist() == [5, 4, 3]
    assert dataset.species.tolist() == [6, 1, 1, 1, 1, 7, 1, 1, 1, 8, 1, 1]
    torch.testing.assert_close(dataset[0].pos[0], torch.tensor([-0.0126981359, 1.0858041578, 0.0080009958],
                                                               dtype=torch.float64))
    assert dataset.strings["smiles"] == ["C", "N", "O"]
    assert dataset[0].properties["homo_ev"] == pytest.approx(-0.3877 * HARTREE_EV)
    assert dataset[0].properties["mu_debye"] == pytest.approx(0.0)
    reasons = {row.name: row.reason for row in dataset.skipped}
    assert sorted(reasons) == ["4", "5", "6", "7"]
    assert "line 5" in reasons["4"] and "N_atoms = 5 but 4 element(s)" in reasons["4"]
    assert "unknown element" in reasons["5"]
    assert "non-finite" in reasons["6"]
    assert "not a number" in reasons["7"]


def test_strict_raises_with_file_and_line() -> None:
    with pytest.raises(DataError, match=r"qm9_tiny.csv: line 5 \(Index 4\)"):
        read_qm9_csv([FIXTURE], strict=True)


def test_remove_hydrogens_keeps_heavy_atoms_in_order() -> None:
    dataset = read_qm9_csv([FIXTURE])
    heavy = dataset.keep_atoms(dataset.species != 1)
    assert heavy.num_atoms.tolist() == [1, 1, 1] and heavy.species.tolist() == [6, 7, 8]
    torch.testing.assert_close(heavy[2].pos, dataset[2].pos[:1])


def test_edm_split_on_synthetic_indices() -> None:
    indices = torch.arange(1, QM9_NUM_MOLECULES + 1) * 2
    splits = edm_split(indices[torch.randperm(QM9_NUM_MOLECULES, generator=torch.Generator().manual_seed(0))])
    assert {name: value.numel() for name, value in splits.items()} == EDM_SPLIT_SIZES
    joined = torch.cat(list(splits.values()))
    assert torch.equal(joined.sort().values, indices)
    expected_test = np.sort(np.random.RandomState(0).permutation(QM9_NUM_MOLECULES)[117_748:])
    assert torch.equal(splits["test"], torch.from_numpy(2 * (expected_test + 1)))
    with pytest.raises(DataError, match="130831"):
        edm_split(indices[:-1])


@pytest.mark.skipif(not HAS_QM9PACK, reason="qm9pack is not installed (pip install qm9pack)")
def test_qm9pack_has_all_molecules_and_edm_split_sizes() -> None:
    indices = torch.from_numpy(np.concatenate([pd.read_csv(path, usecols=["Index"]).Index.to_numpy()
                                               for path in qm9pack_files()]))
    assert indices.numel() == QM9_NUM_MOLECULES and int(indices.max()) == 133_885
    splits = edm_split(indices)
    assert [splits[name].numel() for name in ("train", "val", "test")] == [100_000, 17_748, 13_083]
    assert splits["val"][:3].tolist() == [3, 21, 28] and splits["test"][:3].tolist() == [11, 14, 22]


@pytest.mark.skipif(not HAS_QM9PACK, reason="qm9pack is not installed (pip install qm9pack)")
def test_qm9pack_slice_parses() -> None:
    dataset = read_qm9_csv(qm9pack_files(), nrows=40, strict=True)
    assert len(dataset) == 120 and not dataset.skipped
    assert set(dataset.species.unique().tolist()) <= {1, 6, 7, 8, 9}
    assert bool(dataset.pos.isfinite().all())
