"""File-level steps behind ``genforge medical``: simulate a measurement, reconstruct it, evaluate a volume.

A measurement ``.npz`` holds ``y`` (``[D, ...]``, complex for MRI), ``geometry`` (JSON: modality, size, angles
or mask, noise), ``affine`` (of the reconstruction grid), ``window`` (the value range mapped to [0, 1]:
HU for CT, intensity for MRI) and ``source``. Reconstructions are written in the input's units with that
affine. Every failure is a :class:`~genforge.core.errors.GenforgeError` naming the file; outputs are written
to a temporary name and renamed, so nothing is left half-written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from genforge.core.atomic import atomic_write
from genforge.core.errors import DataError
from genforge.datasets.volumes import CT_WINDOW_HU, Volume, cube_affine, read_volume, to_cube, write_nifti
from genforge.domains.medical.operators import (
    CartesianMRI,
    LinearOperator,
    ParallelBeamCT,
    operator_from_geometry,
)

MEASUREMENT_KEYS = ("y", "geometry", "affine", "window", "source")
HU_LIKE_MIN = -500.0
"""A volume whose minimum is below this is taken as CT in HU (``simulate``, ``evaluate --window auto``)."""


def unit_window(volume: Volume, modality: str) -> tuple[float, float]:
    """Values mapped to [0, 1]: the CT window for ``ct`` volumes in HU (minimum below ``HU_LIKE_MIN``);
    otherwise (``mri``, or CT attenuation maps such as phantoms in [0, 1]) [0, 99.5th percentile]."""
    if modality == "ct" and float(np.min(volume.data)) < HU_LIKE_MIN:
        return CT_WINDOW_HU
    return 0.0, float(max(np.percentile(volume.data, 99.5), 1e-6))


def to_unit(data: np.ndarray | Tensor, window: tuple[float, float]) -> Tensor:
    """Window to [0, 1] (clipped), float32."""
    low, high = window
    values = torch.as_tensor(np.asarray(data), dtype=torch.float32)
    return ((values - low) / (high - low)).clamp(0.0, 1.0)


def make_operator(modality: str, size: int, *, views: int = 8, wedge: float | None = None,
                  acceleration: int = 4, mask: str = "uniform", seed: int = 0) -> LinearOperator:
    """The operator a simulate call asks for: sparse-view CT (``views`` over 180 deg), limited-angle CT
    (``wedge`` degrees, 1-degree steps) or Cartesian MRI (x ``acceleration``, ``uniform`` / ``gaussian``)."""
    if modality == "ct":
        return ParallelBeamCT.limited_angle(size, wedge) if wedge else ParallelBeamCT.sparse_view(size, views)
    if modality == "mri":
        return CartesianMRI.cartesian(size, acceleration, mask, seed)
    raise DataError(f"unknown modality {modality!r} (expected 'ct' or 'mri')", field="modality")


def _atomic(path: Path, write: Any) -> Path:
    """Write through ``write(handle)`` (a binary file handle) atomically."""
    def to_file(temp: Path) -> None:
        with open(temp, "wb") as handle:
            write(handle)

    return atomic_write(path, to_file)


def simulate(volume_path: Path, out: Path, modality: str, *, size: int = 64, noise: float = 0.0, seed: int = 0,
             **geometry: Any) -> tuple[Tensor, LinearOperator]:
    """Read a volume, window it to [0, 1], resample to ``size``^3 (:func:`to_cube`), measure, save ``out``.

    Returns the [0, 1] ground truth ``[size]^3`` and the operator.
    """
    volume = read_volume(volume_path)
    window = unit_window(volume, modality)
    truth = to_cube(to_unit(volume.data, window), size)
    operator = make_operator(modality, size, seed=seed, **geometry)
    y = operator.add_noise(operator.A(truth), noise, torch.Generator().manual_seed(seed))
    record = {**operator.geometry(), "noise_std": noise}
    affine = cube_affine(volume.affine, volume.data.shape, size)
    _atomic(out, lambda handle: np.savez(handle, y=y.numpy(), geometry=json.dumps(record), affine=affine,
                                         window=np.asarray(window), source=str(volume_path)))
    return truth, operator


@dataclass
class Measurement:
    """A loaded measurement file."""

    y: Tensor
    operator: LinearOperator
    geometry: dict[str, Any]
    affine: np.ndarray
    window: tuple[float, float]
    source: Path


def load_measurement(path: Path) -> Measurement:
    """Read and check a measurement ``.npz`` (keys, geometry, y's shape against the geometry)."""
    if not path.is_file():
        raise DataError("no such measurement file", source=path)
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in MEASUREMENT_KEYS if key not in data.files]
            if missing:
                raise DataError(f"not a measurement file: missing {', '.join(missing)}", source=path)
            y, affine, window = data["y"], data["affine"], data["window"]
            geometry = json.loads(str(data["geometry"]))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read as .npz: {err}", source=path) from err
    try:
        operator = operator_from_geometry(geometry)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"malformed geometry: {err}", source=path, field="geometry") from err
    y_tensor = torch.from_numpy(y)
    expected = operator.A(torch.zeros(1, *operator.image_shape)).shape[1:]
    if y_tensor.dim() != 3 or tuple(y_tensor.shape[1:]) != tuple(expected):
        needed = ", ".join(map(str, expected))
        raise DataError(f"y has shape {tuple(y_tensor.shape)} but the geometry needs [D, {needed}]", source=path,
                        field="y")
    if not bool(torch.isfinite(y_tensor).all()):
        raise DataError("y holds NaN or infinite values", source=path, field="y")
    return Measurement(y_tensor, operator, geometry, affine, (float(window[0]), float(window[1])), path)


def write_volume(unit: Tensor, measurement: Measurement, out: Path) -> Path:
    """Write a [0, 1] reconstruction back in the input's units (the window) as NIfTI with its affine."""
    low, high = measurement.window
    if not out.name.endswith((".nii", ".nii.gz")):
        raise DataError("the output must end in .nii or .nii.gz", source=out)
    return write_nifti(unit * (high - low) + low, measurement.affine, out)


def evaluation_pair(recon_path: Path, reference_path: Path, window: str = "auto") -> tuple[Tensor, Tensor]:
    """Both volumes in [0, 1]; the reference is resampled to the reconstruction's cube when shapes differ.

    ``window``: ``LOW,HIGH`` or ``auto`` (the CT window for HU-like references, else [0, p99.5]).
    """
    recon, reference = read_volume(recon_path), read_volume(reference_path)
    if window == "auto":
        bounds = CT_WINDOW_HU if reference.data.min() < HU_LIKE_MIN else unit_window(reference, "mri")
    else:
        try:
            low, high = (float(v) for v in window.split(","))
        except ValueError as err:
            raise DataError(f"expected LOW,HIGH or auto, got {window!r}", field="--window") from err
        bounds = (low, high)
    ref = to_unit(reference.data, bounds)
    if tuple(ref.shape) != recon.data.shape:
        if len(set(recon.data.shape)) != 1:
            raise DataError(f"shape {recon.data.shape} differs from the reference {tuple(ref.shape)} and is not a "
                            "cube to resample the reference to", source=recon_path)
        ref = to_cube(ref, recon.data.shape[0])
    return to_unit(recon.data, bounds), ref
