"""Reusable property-test helpers (equivariance checks) for geometric models."""

from genforge.core.testing.equivariance import (
    GeometricOutputs,
    assert_periodic_invariant,
    assert_permutation_equivariant,
    assert_se3_equivariant,
    random_permutation_within_graphs,
)

__all__ = [
    "GeometricOutputs",
    "assert_periodic_invariant",
    "assert_permutation_equivariant",
    "assert_se3_equivariant",
    "random_permutation_within_graphs",
]
