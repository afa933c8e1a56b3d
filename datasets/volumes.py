"""Medical volumes: read NIfTI (nibabel), DICOM series (pydicom) and ``.npy``; write NIfTI with the input's affine.

Every reader returns a :class:`Volume` whose ``data`` is ``[D, H, W]`` float32 = (z, y, x) (axial slices
first), with the NIfTI-convention affine (RAS+, voxel index order (x, y, z)) that maps it to millimetres.
Bad input (missing file, wrong rank, NaN / inf voxels, DICOM slices of mixed sizes, missing slices or uneven
spacing) raises :class:`~genforge.core.errors.DataError` naming the file and the problem.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from genforge.core.errors import DataError

NIFTI_SUFFIXES = (".nii", ".nii.gz")
CT_WINDOW_HU = (-1000.0, 1000.0)
"""HU window mapped to [0, 1] for CT (air 0, water 0.5, dense bone >= 1 clipped)."""


@dataclass
class Volume:
    """A 3-D image.

    Attributes:
        data: ``[D, H, W]`` float32 voxels (z, y, x); HU for CT.
        affine: ``[4, 4]`` voxel (x, y, z) index -> RAS millimetres.
        source: the file or folder read.
    """

    data: np.ndarray
    affine: np.ndarray
    source: str

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size (dz, dy, dx) in mm, from the affine's column norms."""
        norms = np.linalg.norm(self.affine[:3, :3], axis=0)
        return float(norms[2]), float(norms[1]), float(norms[0])


def _checked(data: np.ndarray, affine: np.ndarray, source: Path) -> Volume:
    if data.ndim == 4 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise DataError(f"expected a 3-D volume, got an array of rank {data.ndim} with shape {data.shape}",
                        source=source)
    if min(data.shape) < 1:
        raise DataError(f"the volume is empty (shape {data.shape})", source=source)
    data = np.asarray(data, dtype=np.float32)
    bad = int((~np.isfinite(data)).sum())
    if bad:
        raise DataError(f"{bad} voxels are NaN or infinite", source=source)
    return Volume(np.ascontiguousarray(data), np.asarray(affine, dtype=np.float64), str(source))


def read_nifti(path: str | Path) -> Volume:
    """A NIfTI file (.nii / .nii.gz); array (x, y, z) is transposed to (z, y, x)."""
    import nibabel

    path = Path(path)
    try:
        image = nibabel.load(str(path))
        array = np.asarray(image.dataobj)
    except (OSError, ValueError, nibabel.filebasedimages.ImageFileError) as err:
        raise DataError(f"cannot read as NIfTI: {err}", source=path) from err
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        return _checked(array, image.affine, path)
    return _checked(np.transpose(array, (2, 1, 0)), image.affine, path)


def read_npy(path: str | Path, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> Volume:
    """A ``[D, H, W]`` ``.npy`` array; the affine is diagonal with ``spacing`` (dz, dy, dx) mm."""
    path = Path(path)
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read as .npy: {err}", source=path) from err
    return _checked(array, np.diag([spacing[2], spacing[1], spacing[0], 1.0]), path)


_REQUIRED_DICOM_TAGS = ("Rows", "Columns", "PixelSpacing", "ImageOrientationPatient", "ImagePositionPatient")


def _hounsfield(path: Path, dataset: object) -> np.ndarray:
    """One slice's pixels [rows, columns] rescaled to HU (RescaleSlope / RescaleIntercept, default 1 / 0)."""
    try:
        pixels = dataset.pixel_array.astype(np.float32)  # type: ignore[attr-defined]
        return pixels * float(getattr(dataset, "RescaleSlope", 1.0)) + float(getattr(dataset, "RescaleIntercept", 0.0))
    except (ValueError, TypeError, AttributeError, RuntimeError, NotImplementedError) as err:
        raise DataError(f"cannot decode the pixel data ({err})", source=path) from err


def read_dicom_series(folder: str | Path, spacing_tolerance: float = 0.01) -> Volume:
    """A DICOM series: every file of ``folder`` that pydicom reads with pixel data, sorted along the slice
    normal, rescaled to HU (RescaleSlope / RescaleIntercept), with equal sizes, pixel spacing and slice gaps
    (relative deviation <= ``spacing_tolerance``) checked."""
    import pydicom

    folder = Path(folder)
    slices = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        try:
            dataset = pydicom.dcmread(path)
        except pydicom.errors.InvalidDicomError:
            continue  # not DICOM (a README, a thumbnail): series folders often hold such files
        except (OSError, ValueError, EOFError, KeyError, struct.error) as err:
            raise DataError(f"damaged DICOM file ({type(err).__name__}: {err})", source=path) from err
        if "PixelData" in dataset:
            missing = [tag for tag in _REQUIRED_DICOM_TAGS if tag not in dataset]
            if missing:
                raise DataError(f"DICOM slice lacks {', '.join(missing)} (needed to stack the series)", source=path)
            slices.append((path, dataset))
    if not slices:
        raise DataError("no DICOM files with pixel data found", source=folder)
    sizes = {(int(ds.Rows), int(ds.Columns)) for _, ds in slices}
    if len(sizes) > 1:
        raise DataError(f"slices of mixed sizes {sorted(sizes)} (rows x columns) in one series", source=folder)
    pixel = {tuple(round(float(v), 4) for v in ds.PixelSpacing) for _, ds in slices}
    if len(pixel) > 1:
        raise DataError(f"slices with different PixelSpacing {sorted(pixel)}", source=folder)
    orientation = np.asarray(slices[0][1].ImageOrientationPatient, dtype=np.float64)
    row_dir, col_dir = orientation[:3], orientation[3:]
    normal = np.cross(row_dir, col_dir)
    positions = np.array([np.dot(normal, np.asarray(ds.ImagePositionPatient, dtype=np.float64))
                          for _, ds in slices])
    order = np.argsort(positions)
    slices, positions = [slices[i] for i in order], positions[order]
    gap = 1.0
    if len(slices) > 1:
        gaps = np.diff(positions)
        gap = float(np.median(gaps))
        if gap <= 0 or np.any(np.abs(gaps - gap) > spacing_tolerance * gap):
            worst = int(np.argmax(np.abs(gaps - gap)))
            raise DataError(f"uneven slice spacing (median {gap:.3g} mm, {gaps[worst]:.3g} mm after "
                            f"{slices[worst][0].name}): missing or duplicate slices", source=folder)
    data = np.stack([_hounsfield(path, ds) for path, ds in slices])
    row_spacing, col_spacing = (float(v) for v in slices[0][1].PixelSpacing)
    affine = np.eye(4)
    affine[:3, 0] = row_dir * col_spacing
    affine[:3, 1] = col_dir * row_spacing
    affine[:3, 2] = normal * gap
    affine[:3, 3] = np.asarray(slices[0][1].ImagePositionPatient, dtype=np.float64)
    affine[:2] *= -1.0  # DICOM LPS -> NIfTI RAS
    return _checked(data, affine, folder)


def read_volume(path: str | Path) -> Volume:
    """Dispatch on ``path``: a folder is a DICOM series, ``.nii`` / ``.nii.gz`` NIfTI, ``.npy`` numpy."""
    path = Path(path)
    if not path.exists():
        raise DataError("no such file or folder", source=path)
    if path.is_dir():
        return read_dicom_series(path)
    if path.name.endswith(NIFTI_SUFFIXES):
        return read_nifti(path)
    if path.suffix == ".npy":
        return read_npy(path)
    raise DataError("unknown volume format (expected a DICOM folder, .nii, .nii.gz or .npy)", source=path)


def write_nifti(data: np.ndarray | torch.Tensor, affine: np.ndarray, path: str | Path) -> Path:
    """Write ``[D, H, W]`` voxels (z, y, x) as NIfTI with ``affine`` (temp file, then rename)."""
    import nibabel

    path = Path(path)
    array = data.detach().cpu().numpy() if isinstance(data, torch.Tensor) else np.asarray(data)
    if array.ndim != 3:
        raise DataError(f"expected a 3-D volume to write, got shape {array.shape}", source=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = ".nii.gz" if path.name.endswith(".gz") else ".nii"
    tmp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        nibabel.Nifti1Image(np.transpose(array.astype(np.float32), (2, 1, 0)), affine).to_filename(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def ct_to_unit(hu: np.ndarray | torch.Tensor, window: tuple[float, float] = CT_WINDOW_HU) -> torch.Tensor:
    """HU -> [0, 1] by the window (clipped), as a float32 tensor."""
    low, high = window
    values = torch.as_tensor(np.asarray(hu), dtype=torch.float32)
    return ((values - low) / (high - low)).clamp(0.0, 1.0)


def unit_to_ct(unit: torch.Tensor, window: tuple[float, float] = CT_WINDOW_HU) -> torch.Tensor:
    """[0, 1] -> HU by the window."""
    low, high = window
    return unit * (high - low) + low


def to_cube(volume: torch.Tensor, size: int) -> torch.Tensor:
    """``[D, H, W]`` -> ``[size]^3``: centre-crop H and W to their minimum (square slices), then trilinear
    resampling of all three axes (anisotropic when D differs from the in-plane size)."""
    _, height, width = volume.shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    cropped = volume[:, top:top + side, left:left + side]
    return F.interpolate(cropped[None, None].float(), size=(size, size, size), mode="trilinear",
                         align_corners=False)[0, 0]


def cube_affine(affine: np.ndarray, shape: tuple[int, int, int], size: int) -> np.ndarray:
    """Affine of :func:`to_cube`'s output for an input ``shape`` (D, H, W) with ``affine``."""
    depth, height, width = shape
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2
    scale = np.array([side / size, side / size, depth / size])
    out = affine.copy()
    out[:3, :3] = affine[:3, :3] * scale
    start = np.array([left + 0.5 * scale[0] - 0.5, top + 0.5 * scale[1] - 0.5, 0.5 * scale[2] - 0.5, 1.0])
    out[:3, 3] = (affine @ start)[:3]
    return out
