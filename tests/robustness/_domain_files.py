"""Valid small files of the domain formats, made in memory, for the bad-input corpus to corrupt."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


def _via_file(suffix: str, write) -> bytes:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"valid{suffix}"
        write(path)
        return path.read_bytes()


def extxyz_trajectory() -> bytes:
    """Five frames of three atoms as extended XYZ."""
    from ase import Atoms
    from ase.io import write

    generator = np.random.default_rng(0)
    frames = [Atoms("OHH", positions=generator.normal(size=(3, 3))) for _ in range(5)]
    return _via_file(".extxyz", lambda path: write(path, frames, format="extxyz"))


def burgers_npz(num: int = 2) -> bytes:
    """A trajectory file with ``u [num, 81, 120]`` and ``f [num, 80, 120]``."""
    buffer = io.BytesIO()
    np.savez(buffer, u=np.zeros((num, 81, 120)), f=np.zeros((num, 80, 120)))
    return buffer.getvalue()


def burgers_npz_with(**arrays: np.ndarray) -> bytes:
    """A trajectory file with the given arrays (for wrong shapes, NaN, missing keys)."""
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def nifti_volume(data: np.ndarray | None = None) -> bytes:
    """A gzipped NIfTI volume (default 8^3 ramp) with an identity affine."""
    import nibabel

    volume = np.linspace(0, 1, 512, dtype=np.float32).reshape(8, 8, 8) if data is None else data
    return _via_file(".nii.gz", lambda path: nibabel.save(nibabel.Nifti1Image(volume, np.eye(4)), str(path)))


def npy_volume(data: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, data)
    return buffer.getvalue()


def splat_ply() -> bytes:
    """Four Gaussians in the standard 3DGS .ply layout (SH degree 1)."""
    from genforge.core.render.gaussians import Gaussians
    from genforge.core.render.ply import save_ply

    generator = torch.Generator().manual_seed(0)
    gaussians = Gaussians(means=torch.randn(4, 3, generator=generator),
                          quats=torch.randn(4, 4, generator=generator),
                          log_scales=torch.randn(4, 3, generator=generator) - 2,
                          opacity_logits=torch.randn(4, generator=generator),
                          sh=torch.randn(4, 4, 3, generator=generator))
    return _via_file(".ply", lambda path: save_ply(gaussians, path))


def dicom_slice(index: int, *, rows: int = 8, position_gap: float = 2.0, drop: str | None = None) -> bytes:
    """One CT slice (``rows`` x 8, int16, HU = 1 * value - 1024) at z = ``index * position_gap`` mm; ``drop``
    removes one attribute (for missing-tag cases)."""
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[str(index)])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = Dataset()
    dataset.file_meta = meta
    dataset.SOPClassUID, dataset.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.Rows, dataset.Columns = rows, 8
    dataset.PixelSpacing = [0.5, 0.5]
    dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    dataset.ImagePositionPatient = [0.0, 0.0, index * position_gap]
    dataset.RescaleSlope, dataset.RescaleIntercept = 1, -1024
    dataset.SamplesPerPixel, dataset.PhotometricInterpretation = 1, "MONOCHROME2"
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit, dataset.PixelRepresentation = 16, 16, 15, 1
    dataset.PixelData = (np.arange(rows * 8, dtype=np.int16) + 100 * index).tobytes()
    if drop is not None:
        delattr(dataset, drop)
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def dicom_series(slices: dict[str, bytes]) -> Callable[[Path], Path]:
    """A maker writing the given files into ``<folder>/series`` and returning that folder."""
    def make(folder: Path) -> Path:
        series = folder / "series"
        series.mkdir()
        for name, content in slices.items():
            (series / name).write_bytes(content)
        return series

    return make
