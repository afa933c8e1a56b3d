"""``genforge doctor``: which libraries, devices and backends this installation has, and what to install."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import platform
from dataclasses import dataclass

PACKAGES: dict[str, tuple[str, str, str]] = {
    # distribution: (import name, extra that installs it, what genforge uses it for)
    "torch": ("torch", "core", "tensors, autograd, training"),
    "torch-geometric": ("torch_geometric", "core", "EGNN message passing, graph batches"),
    "e3nn": ("e3nn", "core", "SE(3) tensor-product layers"),
    "kornia": ("kornia", "core", "camera transforms"),
    "pot": ("ot", "core", "minibatch optimal-transport coupling"),
    "rdkit": ("rdkit", "materials", "SDF IO, molecule validity"),
    "pymatgen": ("pymatgen.core", "materials", "CIF IO, StructureMatcher, Niggli check"),
    "ase": ("ase", "materials", "XYZ / extxyz IO, MD, IDPP"),
    "smact": ("smact", "materials", "compositional validity"),
    "qm9pack": ("qm9pack", "materials", "QM9 molecules"),
    "tblite": ("tblite", "ts", "GFN2-xTB energies and forces"),
    "sella": ("sella", "ts", "saddle-point refinement"),
    "pywavelets": ("pywt", "pde", "reference wavelet transforms"),
    "ptwt": ("ptwt", "pde", "differentiable wavelet transforms"),
    "gsplat": ("gsplat", "splat", "CUDA Gaussian rasterizer"),
    "nibabel": ("nibabel", "medical", "NIfTI volumes"),
    "pydicom": ("pydicom", "medical", "DICOM series"),
    "diffusers": ("diffusers", "benchmark", "sampler shoot-out reference"),
}


@dataclass(frozen=True)
class PackageStatus:
    """One row of the report: distribution name, installed version (None if missing), extra, purpose."""

    name: str
    version: str | None
    extra: str
    purpose: str


def package_statuses() -> list[PackageStatus]:
    """Installed version (or None) of every library genforge can use, without importing them."""
    rows = []
    for name, (module, extra, purpose) in PACKAGES.items():
        try:
            found = importlib.util.find_spec(module.split(".")[0]) is not None
        except (ImportError, ValueError):
            found = False
        version = None
        if found:
            try:
                version = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                version = "installed"
        rows.append(PackageStatus(name, version, extra, purpose))
    return rows


def backends() -> dict[str, str]:
    """Device and backend choices genforge will make on this machine."""
    import torch

    cuda = torch.cuda.is_available()
    gsplat = importlib.util.find_spec("gsplat") is not None
    return {
        "python": platform.python_version(),
        "torch threads": str(torch.get_num_threads()),
        "CUDA": torch.cuda.get_device_name(0) if cuda else "not available (CPU only)",
        "training device / DDP backend": "cuda / nccl" if cuda else "cpu / gloo",
        "Gaussian rasterizer": "gsplat CUDA" if cuda and gsplat else "pure-torch CPU rasterizer",
        "mixed precision (train.precision=bf16)": "bf16 autocast" if cuda else "ignored: float32 on CPU",
    }
