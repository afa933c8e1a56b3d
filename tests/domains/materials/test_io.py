"""Structure file I/O: write -> read round trips (CIF, XYZ, extended XYZ, SDF) and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genforge.core.errors import DataError
from genforge.core.geometry.lattice import frac_to_cart, lattice_params_to_matrix, matrix_to_lattice_params
from genforge.datasets.batch import AtomsRecord
from genforge.domains.materials.io import read_structures, write_cif, write_sdf, write_xyz

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "materials"
F64 = torch.float64


def _random_crystal(seed: int, n: int) -> AtomsRecord:
    generator = torch.Generator().manual_seed(seed)
    lengths = 3.0 + 5.0 * torch.rand(3, generator=generator, dtype=F64)
    angles = torch.deg2rad(70.0 + 40.0 * torch.rand(3, generator=generator, dtype=F64))
    cell = lattice_params_to_matrix(lengths, angles)
    frac = torch.rand(n, 3, generator=generator, dtype=F64)
    species = torch.randint(1, 95, (n,), generator=generator)
    return AtomsRecord(species=species, pos=frac_to_cart(frac, cell), frac=frac, cell=cell,
                       name=f"rand {seed}")


def _random_molecule(seed: int, n: int) -> AtomsRecord:
    generator = torch.Generator().manual_seed(seed)
    return AtomsRecord(species=torch.randint(1, 10, (n,), generator=generator),
                       pos=3.0 * torch.randn(n, 3, generator=generator, dtype=F64), name=f"mol{seed}",
                       properties={"energy": -1.25 * seed})


def test_cif_round_trip(tmp_path: Path) -> None:
    crystals = [_random_crystal(seed, n) for seed, n in ((0, 5), (1, 1), (2, 12))]
    write_cif(tmp_path / "out.cif", crystals)
    recovered = read_structures(tmp_path / "out.cif")
    assert [record.name for record in recovered] == ["rand_0", "rand_1", "rand_2"]
    for original, read in zip(crystals, recovered, strict=True):
        assert torch.equal(read.species, original.species)
        for before, after in zip(matrix_to_lattice_params(original.cell), matrix_to_lattice_params(read.cell),
                                 strict=True):
            torch.testing.assert_close(after, before, atol=1e-6, rtol=0.0)
        torch.testing.assert_close(read.frac, original.frac, atol=1e-6, rtol=0.0)
        torch.testing.assert_close(read.cell, original.cell, atol=1e-6, rtol=0.0)


def test_cif_fixture_with_two_blocks() -> None:
    cubic, carbon = read_structures(FIXTURES / "tiny.cif")
    assert cubic.name == "SrTiO3_cubic" and cubic.species.tolist() == [38, 22, 8, 8, 8]
    torch.testing.assert_close(cubic.cell, 3.905 * torch.eye(3, dtype=F64), atol=1e-12, rtol=0.0)
    torch.testing.assert_close(cubic.pos[1], torch.full((3,), 3.905 / 2, dtype=F64))
    assert carbon.num_atoms == 4 and carbon.frac[3, 1].item() == pytest.approx(0.8599)


@pytest.mark.parametrize("extended", [True, False])
def test_xyz_round_trip(tmp_path: Path, extended: bool) -> None:
    molecules = [_random_molecule(seed, n) for seed, n in ((1, 4), (2, 9))]
    write_xyz(tmp_path / "out.xyz", molecules, extended=extended)
    recovered = read_structures(tmp_path / "out.xyz")
    for original, read in zip(molecules, recovered, strict=True):
        assert torch.equal(read.species, original.species) and read.name == original.name
        torch.testing.assert_close(read.pos, original.pos, atol=1e-8, rtol=0.0)
        assert not read.is_periodic
        if extended:
            assert read.properties["energy"] == pytest.approx(original.properties["energy"])


def test_extxyz_round_trip_of_crystal_and_molecule(tmp_path: Path) -> None:
    records = [_random_crystal(3, 6), _random_molecule(4, 3)]
    write_xyz(tmp_path / "mixed.extxyz", records)
    crystal, molecule = read_structures(tmp_path / "mixed.extxyz")
    torch.testing.assert_close(crystal.cell, records[0].cell, atol=1e-8, rtol=0.0)
    torch.testing.assert_close(crystal.frac, records[0].frac, atol=1e-7, rtol=0.0)
    assert crystal.name == "rand_3" and not molecule.is_periodic
    with pytest.raises(DataError, match="plain XYZ cannot hold a cell"):
        write_xyz(tmp_path / "plain.xyz", records, extended=False)
    assert not (tmp_path / "plain.xyz").exists()


def test_xyz_fixtures() -> None:
    water, monoxide = read_structures(FIXTURES / "tiny.xyz")
    assert water.name == "water" and water.species.tolist() == [8, 1, 1]
    assert monoxide.name == "carbon monoxide" and monoxide.pos[1, 2].item() == pytest.approx(1.128)
    diamond, water_ext = read_structures(FIXTURES / "tiny.extxyz")
    assert diamond.properties["energy"] == pytest.approx(-18.2)
    torch.testing.assert_close(diamond.frac[1], torch.full((3,), 0.25, dtype=F64))
    assert water_ext.name == "water" and not water_ext.is_periodic


def test_sdf_round_trip_with_bonds(tmp_path: Path) -> None:
    methanol, cyanide = read_structures(FIXTURES / "tiny.sdf")
    assert methanol.name == "methanol" and methanol.species.tolist() == [6, 8, 1, 1, 1, 1]
    assert cyanide.properties["energy"] == pytest.approx(-1.5)
    bonds = [torch.tensor([[0, 1, 1], [0, 2, 1], [0, 3, 1], [0, 4, 1], [1, 5, 1]]), torch.tensor([[0, 1, 3],
                                                                                                  [0, 2, 1]])]
    write_sdf(tmp_path / "out.sdf", [methanol, cyanide], bonds=bonds)
    again = read_structures(tmp_path / "out.sdf")
    for original, read in zip((methanol, cyanide), again, strict=True):
        assert torch.equal(read.species, original.species) and read.name == original.name
        torch.testing.assert_close(read.pos, original.pos, atol=1e-4, rtol=0.0)
    text = (tmp_path / "out.sdf").read_text()
    assert "  1  2  3  0" in text


def test_writers_refuse_the_wrong_kind_and_leave_no_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.sdf"
    target.write_text("previous content")
    with pytest.raises(DataError, match="SDF cannot hold a cell"):
        write_sdf(target, [_random_crystal(0, 2)])
    with pytest.raises(DataError, match="has no cell"):
        write_cif(tmp_path / "mol.cif", _random_molecule(0, 2))
    assert target.read_text() == "previous content" and not (tmp_path / "mol.cif").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["keep.sdf"]


@pytest.mark.parametrize(("name", "line", "reason"), [
    ("bad_not_cif.cif", 1, "no data_ block"),
    ("bad_unknown_element.cif", 61, "unknown element 'Qq'"),
    ("bad_nan_coordinate.cif", 30, "not a finite number"),
    ("bad_zero_volume.cif", 7, "zero-volume"),
    ("bad_count_short.xyz", 1, "declares 4 atoms but 3 line"),
    ("bad_count_long.xyz", 5, "expected the number of atoms"),
    ("bad_unknown_element.xyz", 8, "unknown element 'Zz'"),
    ("bad_nan_coordinate.xyz", 5, "non-finite coordinate"),
    ("bad_zero_volume.extxyz", 2, "zero-volume"),
    ("bad_count.sdf", 28, "expected atom line 4 of the 4 declared"),
    ("bad_unknown_element.sdf", 26, "unknown element 'Xx'"),
    ("bad_nan_coordinate.sdf", 6, "non-finite coordinate"),
])
def test_malformed_files_name_file_and_line(name: str, line: int, reason: str) -> None:
    with pytest.raises(DataError) as caught:
        read_structures(FIXTURES / name)
    message = str(caught.value)
    assert name in message and f"line {line}" in message and reason in message
    assert caught.value.source is not None and caught.value.source.endswith(name)


def test_unknown_suffix_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown structure format"):
        read_structures(tmp_path / "x.pdb")
    with pytest.raises(DataError, match="file not found"):
        read_structures(tmp_path / "x.cif")
