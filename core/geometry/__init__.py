"""Geometry of molecules and crystals: rotations, lattices, Kabsch alignment and RMSD.

Names are imported lazily (PEP 562) so that importing one module does not load the others' dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "random_quaternions": "rotations", "random_rotations": "rotations", "quaternion_to_matrix": "rotations",
    "matrix_to_quaternion": "rotations", "axis_angle_to_matrix": "rotations",
    "matrix_to_axis_angle": "rotations",
    "lattice_params_to_matrix": "lattice", "matrix_to_lattice_params": "lattice", "cell_volume": "lattice",
    "frac_to_cart": "lattice", "cart_to_frac": "lattice", "wrap_frac": "lattice",
    "minimum_image_frac": "lattice",
    "kabsch": "kabsch", "superpose": "kabsch", "aligned_rmsd": "kabsch", "permutation_aware_rmsd": "kabsch",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
