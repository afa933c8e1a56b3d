"""Volume readers / writer: NIfTI round trip with the affine, .npy, DICOM series (pydicom's bundled CT_small.dcm
copied into a series), and one clear DataError for each kind of bad input."""

from __future__ import annotations

import copy
from pathlib import Path

import nibabel
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from genforge.core.errors import DataError
from genforge.datasets.volumes import cube_affine, read_volume, to_cube, write_nifti

AFFINE = np.array([[2.0, 0, 0, -10], [0, 1.5, 0, 5], [0, 0, 3.0, 7], [0, 0, 0, 1]])


def test_nifti_round_trip_keeps_affine_and_axis_order(tmp_path: Path) -> None:
    data = np.random.default_rng(0).normal(size=(4, 5, 6)).astype(np.float32)  # (z, y, x)
    path = write_nifti(data, AFFINE, tmp_path / "v.nii.gz")
    on_disk = nibabel.load(str(path))
    assert on_disk.shape == (6, 5, 4)
    np.testing.assert_allclose(on_disk.affine, AFFINE)
    volume = read_volume(path)
    np.testing.assert_allclose(volume.data, data)
    assert volume.spacing == (3.0, 1.5, 2.0)
    assert not list(tmp_path.glob(".*"))


def test_npy_and_bad_arrays(tmp_path: Path) -> None:
    np.save(tmp_path / "ok.npy", np.ones((3, 4, 5)))
    assert read_volume(tmp_path / "ok.npy").data.shape == (3, 4, 5)
    np.save(tmp_path / "flat.npy", np.ones((4, 5)))
    with pytest.raises(DataError, match=r"flat\.npy.*rank 2"):
        read_volume(tmp_path / "flat.npy")
    bad = np.ones((3, 4, 5))
    bad[1, 2, 3] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(DataError, match=r"nan\.npy.*NaN"):
        read_volume(tmp_path / "nan.npy")
    with pytest.raises(DataError, match="no such file"):
        read_volume(tmp_path / "missing.nii.gz")


def _series(folder: Path, count: int, gap: float = 5.0, skip: int | None = None, resize: int | None = None) -> Path:
    folder.mkdir()
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    for index in range(count):
        if index == skip:
            continue
        dataset = copy.deepcopy(source)
        position = [float(v) for v in source.ImagePositionPatient]
        dataset.ImagePositionPatient = [position[0], position[1], position[2] + gap * index]
        pixels = source.pixel_array + 10 * index
        if index == resize:
            pixels = pixels[:64, :64]
        dataset.Rows, dataset.Columns = pixels.shape
        dataset.PixelData = np.ascontiguousarray(pixels.astype(np.int16)).tobytes()
        dataset.save_as(folder / f"slice_{(count - index):03d}.dcm")  # reverse file order: the reader must sort
    (folder / "notes.txt").write_text("not a DICOM file")
    return folder


def test_dicom_series_sorted_rescaled_and_spaced(tmp_path: Path) -> None:
    volume = read_volume(_series(tmp_path / "series", 4))
    source = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    assert volume.data.shape == (4, 128, 128)
    expected_first = source.pixel_array.astype(np.float32) * float(source.RescaleSlope) + float(
        source.RescaleIntercept)
    np.testing.assert_allclose(volume.data[0], expected_first)
    np.testing.assert_allclose(volume.data[3] - volume.data[0], 30.0)
    assert volume.spacing == pytest.approx((5.0, 0.661468, 0.661468))
    assert volume.affine[2, 3] == pytest.approx(-75.699997)


def test_dicom_series_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"missing.*uneven slice spacing|uneven slice spacing"):
        read_volume(_series(tmp_path / "gap", 5, skip=2))
    with pytest.raises(DataError, match="mixed sizes"):
        read_volume(_series(tmp_path / "mixed", 3, resize=1))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no DICOM files"):
        read_volume(empty)


def test_to_cube_and_its_affine() -> None:
    data = np.arange(6 * 4 * 8, dtype=np.float32).reshape(6, 4, 8)
    cube = to_cube(__import__("torch").from_numpy(data), 4)
    assert tuple(cube.shape) == (4, 4, 4)
    affine = cube_affine(AFFINE, data.shape, 4)
    np.testing.assert_allclose(np.linalg.norm(affine[:3, :3], axis=0), [2.0, 1.5, 3.0 * 6 / 4])
