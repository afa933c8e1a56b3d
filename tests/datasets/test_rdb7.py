"""RDB7 loader: parsing against ase, cache, batching, split, malformed records."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import ase.io
import numpy as np
import pytest
import torch

from genforge.core.errors import DataError
from genforge.datasets.rdb7 import (
    FILES,
    KCAL_PER_MOL_PER_EV,
    collate_reactions,
    default_root,
    load_rdb7,
    split_reactions,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rdb7"


def _copy(source: Path, target: Path, records: int | None = None) -> Path:
    """Copy an RDB7 folder, keeping only its first ``records`` reactions when given."""
    target.mkdir()
    if records is None:
        for name in ("reactions.csv", *FILES.values()):
            shutil.copy(source / name, target / name)
        return target
    csv_lines = (source / "reactions.csv").read_text().splitlines()
    (target / "reactions.csv").write_text("\n".join(csv_lines[: records + 1]) + "\n")
    for name in FILES.values():
        lines = (source / name).read_text().splitlines()
        line = 0
        for _ in range(records):
            line += int(lines[line]) + 2
        (target / name).write_text("\n".join(lines[:line]) + "\n")
    return target


def _assert_matches_ase(root: Path, tmp_path: Path) -> None:
    data = load_rdb7(root, cache_dir=tmp_path / "cache", strict=True)
    frames = {role: ase.io.read(root / name, index=":", format="extxyz") for role, name in FILES.items()}
    assert len(data.reactions) == len(frames["r"])
    for index, reaction in enumerate(data.reactions):
        assert reaction.rxn_id == frames["ts"][index].info["rxn_id"]
        positions = {"r": reaction.pos_reactant, "ts": reaction.pos_ts, "p": reaction.pos_product}
        for role in FILES:
            assert np.array_equal(reaction.species.numpy(), frames[role][index].numbers)
            assert np.array_equal(positions[role].numpy(), frames[role][index].positions)


def test_fixture_matches_ase_and_csv(tmp_path: Path) -> None:
    _assert_matches_ase(FIXTURE, tmp_path)
    data = load_rdb7(FIXTURE, cache_dir=tmp_path / "cache")
    assert data.skipped == ()
    assert data.reactions.rxn_id.tolist() == [0, 2, 7, 3475, 5207]
    assert (data.reactions.ptr[1:] - data.reactions.ptr[:-1]).tolist() == [9, 13, 6, 5, 4]
    assert data.reactions[0].species.tolist() == [6, 6, 7, 8, 7, 7, 1, 1, 1]
    assert data.reactions.charge.tolist() == [0] * 5 and data.reactions.multiplicity.tolist() == [1] * 5
    assert data.reactions[0].barrier == pytest.approx(48.61085 / KCAL_PER_MOL_PER_EV, rel=1e-12)


@pytest.mark.skipif(not (default_root() / "reactions.csv").is_file(), reason="RDB7 data folder not present")
def test_first_real_reactions_match_ase(tmp_path: Path) -> None:
    _assert_matches_ase(_copy(default_root(), tmp_path / "rdb7", records=40), tmp_path)


def test_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    root = _copy(FIXTURE, tmp_path / "rdb7")
    cache = tmp_path / "cache"
    parsed = load_rdb7(root, cache_dir=cache)
    assert len(list(cache.glob("rdb7-*.pt"))) == 1
    cached = load_rdb7(root, cache_dir=cache)
    for name in ("species", "pos_reactant", "pos_ts", "pos_product", "ptr", "rxn_id", "barrier"):
        assert torch.equal(getattr(parsed.reactions, name), getattr(cached.reactions, name))
    text = (root / "ts.xyz").read_text()
    (root / "ts.xyz").write_text(text.replace("-1.12328400", "-1.12328500", 1))
    changed = load_rdb7(root, cache_dir=cache)
    assert len(list(cache.glob("rdb7-*.pt"))) == 2
    assert changed.reactions.pos_ts[0, 0] == pytest.approx(-1.123285, abs=1e-12)


def test_select_equals_collate_of_items(tmp_path: Path) -> None:
    reactions = load_rdb7(FIXTURE, cache_dir=tmp_path).reactions
    order = torch.tensor([3, 0, 4])
    selected = reactions.select(order)
    collated = collate_reactions([reactions[i] for i in order.tolist()])
    for name in ("species", "pos_reactant", "pos_ts", "pos_product", "batch", "ptr", "rxn_id", "charge",
                 "multiplicity", "barrier"):
        assert torch.equal(getattr(selected, name), getattr(collated, name)), name
    assert selected.batch.tolist() == [0] * 5 + [1] * 9 + [2] * 4


def test_split_is_disjoint_deterministic_and_stable() -> None:
    rxn_id = torch.arange(2000) * 3 + 1
    split = split_reactions(rxn_id, val_fraction=0.1, seed=0)
    assert split.val.numel() == 200 and split.train.numel() == 1800
    assert torch.equal(torch.sort(torch.cat([split.train, split.val])).values, torch.arange(2000))
    assert torch.equal(split.val, split_reactions(rxn_id, val_fraction=0.1, seed=0).val)
    val_ids = set(rxn_id[split.val].tolist())
    shuffled = rxn_id[torch.randperm(2000, generator=torch.Generator().manual_seed(1))]
    assert set(shuffled[split_reactions(shuffled).val].tolist()) == val_ids
    assert set(rxn_id[split_reactions(rxn_id, seed=1).val].tolist()) != val_ids
    fewer = rxn_id[1:]
    moved = val_ids ^ set(fewer[split_reactions(fewer, val_fraction=200 / 1999).val].tolist())
    assert len(moved - {int(rxn_id[0])}) <= 1


def _edit_record(root: Path, name: str, record: int, edit: Callable[[list[str]], list[str]]) -> None:
    """Replace the lines of record ``record`` of ``root/name`` by ``edit(lines)``."""
    lines = (root / name).read_text().splitlines()
    line = 0
    for _ in range(record):
        line += int(lines[line]) + 2
    end = line + int(lines[line]) + 2
    lines[line:end] = edit(lines[line:end])
    (root / name).write_text("\n".join(lines) + "\n")


def _replace(line: int, old: str, new: str) -> Callable[[list[str]], list[str]]:
    def edit(block: list[str]) -> list[str]:
        assert old in block[line]
        return [*block[:line], block[line].replace(old, new, 1), *block[line + 1:]]
    return edit


def _drop_second_atom(block: list[str]) -> list[str]:
    return [str(int(block[0]) - 1), block[1], block[2], *block[4:]]


# defect -> (file, record, edit, words expected in the reason); record k of the fixture starts at line
# 1, 12, 27, 35, 42 (1-based).
RECORD_DEFECTS = {
    "element swapped": ("ts.xyz", 2, _replace(2, "O ", "N "), "atom 0 is N but atom map 1 of the SMILES is"),
    "coordinate not a number": ("products.xyz", 1, _replace(3, "0.", "abc"), "line 15 does not read"),
    "coordinate infinite": ("ts.xyz", 0, _replace(10, "0.", "inf"), "line 11 does not read"),
    "unknown element": ("reactants.xyz", 4, _replace(2, "N ", "Xq "), "line 44 does not read"),
    "token missing": ("reactants.xyz", 4, _replace(5, "N ", ""), "line 47 does not read"),
    "rxn_id differs": ("reactants.xyz", 3, _replace(1, "rxn_id=3475", "rxn_id=3476"), "rxn_id 3476"),
    "role wrong": ("products.xyz", 0, _replace(1, "role=p", "role=ts"), "role 'ts' is not 'p'"),
    "atom missing": ("ts.xyz", 3, _drop_second_atom, "4 atoms but the reaction SMILES has 5"),
}


@pytest.mark.parametrize("defect", sorted(RECORD_DEFECTS))
def test_bad_record_is_skipped_or_raises_in_strict_mode(defect: str, tmp_path: Path) -> None:
    file, record, edit, words = RECORD_DEFECTS[defect]
    root = _copy(FIXTURE, tmp_path / "rdb7")
    _edit_record(root, file, record, edit)
    data = load_rdb7(root, cache_dir=tmp_path / "cache")
    kept = [rxn for k, rxn in enumerate([0, 2, 7, 3475, 5207]) if k != record]
    assert data.reactions.rxn_id.tolist() == kept
    (skipped,) = data.skipped
    assert (Path(skipped.file).name, skipped.record) == (file, record)
    assert words in skipped.reason
    with pytest.raises(DataError) as error:
        load_rdb7(root, cache_dir=tmp_path / "cache", strict=True)
    assert file in str(error.value) and f"record {record} (rxn_id" in str(error.value)
    assert words in str(error.value)


def test_smiles_problems_are_reported_against_the_csv(tmp_path: Path) -> None:
    root = _copy(FIXTURE, tmp_path / "rdb7")
    text = (root / "reactions.csv").read_text()
    (root / "reactions.csv").write_text(text.replace("[N:1]#[C:2][C:3]#[N:4]>>", "[N:1]#[C:2][C:3]#[N]>>"))
    (skipped,) = load_rdb7(root, cache_dir=tmp_path).skipped
    assert (Path(skipped.file).name, skipped.record, skipped.rxn_id) == ("reactions.csv", 4, 5207)
    assert "atom maps" in skipped.reason


@pytest.mark.parametrize("defect", ["count line", "truncated", "record count", "missing file"])
def test_broken_files_always_raise(defect: str, tmp_path: Path) -> None:
    root = _copy(FIXTURE, tmp_path / "rdb7")
    lines = (root / "ts.xyz").read_text().splitlines()
    if defect == "count line":
        lines[9 + 2] = "thirteen"
    elif defect == "truncated":
        lines = lines[:-2]
    elif defect == "record count":
        lines = lines[: -(4 + 2)]
    (root / "ts.xyz").write_text("\n".join(lines) + "\n")
    if defect == "missing file":
        (root / "products.xyz").unlink()
    with pytest.raises(DataError) as error:
        load_rdb7(root, cache_dir=tmp_path / "cache")
    assert ("products.xyz" if defect == "missing file" else "ts.xyz") in str(error.value)
    if defect == "count line":
        assert "record 1 (line 12)" in str(error.value)
