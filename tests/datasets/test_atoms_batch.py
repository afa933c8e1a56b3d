"""AtomsRecord / AtomsBatch / AtomsDataset: collate-split round trips, vectorised gathers, payloads."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.geometry.lattice import frac_to_cart, lattice_params_to_matrix, matrix_to_lattice_params
from genforge.datasets.atoms_dataset import AtomsDataset, SkippedRow, segment_gather_index
from genforge.datasets.batch import AtomsBatch, AtomsRecord

F64 = torch.float64


def _molecule(n: int, generator: torch.Generator, name: str) -> AtomsRecord:
    return AtomsRecord(species=torch.randint(1, 10, (n,), generator=generator),
                       pos=torch.randn(n, 3, generator=generator, dtype=F64), name=name,
                       properties={"energy": float(torch.randn(1, generator=generator))})


def _crystal(n: int, generator: torch.Generator, name: str) -> AtomsRecord:
    lengths = 3.0 + 3.0 * torch.rand(3, generator=generator, dtype=F64)
    angles = torch.deg2rad(80.0 + 20.0 * torch.rand(3, generator=generator, dtype=F64))
    cell = lattice_params_to_matrix(lengths, angles)
    frac = torch.rand(n, 3, generator=generator, dtype=F64)
    return AtomsRecord(species=torch.randint(1, 90, (n,), generator=generator), pos=frac_to_cart(frac, cell),
                       frac=frac, cell=cell, name=name, properties={"energy": float(n)})


def _records(seed: int = 0) -> list[AtomsRecord]:
    generator = torch.Generator().manual_seed(seed)
    return [_crystal(5, generator, "a"), _molecule(3, generator, "b"), _crystal(1, generator, "c"),
            _molecule(7, generator, "d")]


def _assert_same(first: AtomsRecord, second: AtomsRecord, atol: float = 0.0) -> None:
    assert torch.equal(first.species, second.species)
    torch.testing.assert_close(first.pos, second.pos, atol=atol, rtol=0.0, check_dtype=False)
    assert first.is_periodic == second.is_periodic
    if first.is_periodic:
        torch.testing.assert_close(first.frac, second.frac, atol=atol, rtol=0.0, check_dtype=False)
        torch.testing.assert_close(first.cell, second.cell, atol=atol, rtol=0.0, check_dtype=False)
    assert first.properties.keys() == second.properties.keys()
    for key in first.properties:
        assert first.properties[key] == pytest.approx(second.properties[key], abs=max(atol, 1e-12))


def test_collate_layout_and_split_round_trip() -> None:
    records = _records()
    batch = AtomsBatch.collate(records, dtype=F64)
    assert batch.num_graphs == 4 and batch.pos.shape == (16, 3) and batch.cell.shape == (4, 3, 3)
    assert batch.batch.tolist() == [0] * 5 + [1] * 3 + [2] + [3] * 7
    assert batch.num_atoms.tolist() == [5, 3, 1, 7]
    assert batch.periodic.tolist() == [True, False, True, False]
    assert torch.equal(batch.cell[1], torch.zeros(3, 3, dtype=F64))
    for original, recovered in zip(records, batch.split(), strict=True):
        _assert_same(original, recovered)


def test_float32_collate_casts_only_floats() -> None:
    batch = AtomsBatch.collate(_records())
    assert batch.pos.dtype == torch.float32 and batch.cell.dtype == torch.float32
    assert batch.species.dtype == torch.long and batch.node_mask.dtype == torch.bool
    moved = batch.to("cpu", dtype=F64)
    assert moved.pos.dtype == F64 and moved.properties["energy"].dtype == F64
    assert moved.species.dtype == torch.long and torch.equal(moved.batch, batch.batch)


def test_lattice_params_match_the_cells() -> None:
    records = [record for record in _records() if record.is_periodic]
    lengths, angles = AtomsBatch.collate(records, dtype=F64).lattice_params()
    expected = [matrix_to_lattice_params(record.cell) for record in records]
    torch.testing.assert_close(lengths, torch.stack([item[0] for item in expected]))
    torch.testing.assert_close(angles, torch.stack([item[1] for item in expected]))


def test_split_drops_masked_atoms() -> None:
    batch = AtomsBatch.collate(_records(), dtype=F64)
    mask = torch.ones_like(batch.node_mask)
    mask[[0, 5]] = False  # first atom of graph 0 and of graph 1
    pieces = AtomsBatch(pos=batch.pos, species=batch.species, batch=batch.batch, num_graphs=batch.num_graphs,
                        node_mask=mask, frac=batch.frac, cell=batch.cell, properties=batch.properties).split()
    assert [piece.num_atoms for piece in pieces] == [4, 2, 1, 7]
    assert torch.equal(pieces[1].species, batch.species[6:8])


def test_shape_errors_are_caught_at_construction() -> None:
    with pytest.raises(ValueError, match="pos must be"):
        AtomsRecord(species=torch.ones(3, dtype=torch.long), pos=torch.zeros(2, 3))
    with pytest.raises(ValueError, match="frac and cell"):
        AtomsRecord(species=torch.ones(1, dtype=torch.long), pos=torch.zeros(1, 3), frac=torch.zeros(1, 3))
    with pytest.raises(ValueError, match="same property names"):
        one = torch.ones(1, dtype=torch.long)
        AtomsBatch.collate([AtomsRecord(one, torch.zeros(1, 3)),
                            AtomsRecord(one, torch.zeros(1, 3), properties={"e": 1.0})])


def test_segment_gather_index() -> None:
    index = segment_gather_index(torch.tensor([5, 0, 9]), torch.tensor([2, 3, 0]))
    assert index.tolist() == [5, 6, 0, 1, 2]


def _dataset(records: list[AtomsRecord]) -> AtomsDataset:
    """A crystal-only dataset built from records (the same layout the loaders produce)."""
    energy = torch.tensor([r.properties["energy"] for r in records], dtype=F64)
    return AtomsDataset(species=torch.cat([r.species for r in records]),
                        pos=torch.cat([r.pos for r in records]),
                        num_atoms=torch.tensor([r.num_atoms for r in records]),
                        source_rows=torch.arange(len(records)) * 10, names=[r.name for r in records],
                        frac=torch.cat([r.frac for r in records]),
                        cell=torch.stack([r.cell for r in records]), properties={"energy": energy},
                        strings={"formula": [f"X{i}" for i in range(len(records))]},
                        skipped=[SkippedRow(3, "bad", "reason")])


def test_dataset_batch_equals_collate_of_its_items() -> None:
    generator = torch.Generator().manual_seed(1)
    records = [_crystal(n, generator, str(n)) for n in (4, 1, 6, 2, 3)]
    dataset = _dataset(records)
    indices = [3, 0, 3, 4]
    gathered = dataset.batch(indices, dtype=F64)
    reference = AtomsBatch.collate([dataset[i] for i in indices], dtype=F64)
    for field in ("pos", "species", "batch", "node_mask", "frac", "cell"):
        assert torch.equal(getattr(gathered, field), getattr(reference, field)), field
    assert torch.equal(gathered.properties["energy"], reference.properties["energy"])
    for i in range(len(records)):
        _assert_same(dataset[i], records[i])


def test_dataset_subset_keep_atoms_and_payload(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(2)
    dataset = _dataset([_crystal(n, generator, str(n)) for n in (2, 5, 3)])
    subset = dataset.subset([2, 0])
    assert subset.names == ["3", "2"] and subset.source_rows.tolist() == [20, 0]
    assert subset.strings["formula"] == ["X2", "X0"]
    _assert_same(subset[0], dataset[2])
    kept = dataset.keep_atoms(dataset.species % 2 == 0)
    assert kept.num_atoms.tolist() == [int((dataset[i].species % 2 == 0).sum()) for i in range(3)]
    assert bool((kept.species % 2 == 0).all())
    torch.save(dataset.to_payload(), tmp_path / "payload.pt")
    restored = AtomsDataset.from_payload(torch.load(tmp_path / "payload.pt", weights_only=True))
    assert restored.skipped == [SkippedRow(3, "bad", "reason")]
    for i in range(len(dataset)):
        _assert_same(restored[i], dataset[i])
