"""Geometry of molecules and crystals: rotations, lattices, CoM-free noise, Kabsch alignment and RMSD."""

from genforge.core.geometry.com import com_free_noise, remove_com
from genforge.core.geometry.kabsch import aligned_rmsd, kabsch, permutation_aware_rmsd, superpose
from genforge.core.geometry.lattice import (
    cart_to_frac,
    cell_volume,
    frac_to_cart,
    lattice_params_to_matrix,
    matrix_to_lattice_params,
    minimum_image_frac,
    wrap_frac,
)
from genforge.core.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_matrix,
    random_quaternions,
    random_rotations,
)

__all__ = [
    "aligned_rmsd",
    "axis_angle_to_matrix",
    "cart_to_frac",
    "cell_volume",
    "com_free_noise",
    "frac_to_cart",
    "kabsch",
    "lattice_params_to_matrix",
    "matrix_to_axis_angle",
    "matrix_to_lattice_params",
    "matrix_to_quaternion",
    "minimum_image_frac",
    "permutation_aware_rmsd",
    "quaternion_to_matrix",
    "random_quaternions",
    "random_rotations",
    "remove_com",
    "superpose",
    "wrap_frac",
]
