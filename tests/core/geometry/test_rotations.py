"""Rotations: Haar sampling on SO(3) and the quaternion / axis-angle conversions."""

from __future__ import annotations

import math

import torch

from genforge.core.geometry.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_matrix,
    random_quaternions,
    random_rotations,
)

F64 = torch.float64


def test_random_rotations_are_proper_and_reproducible() -> None:
    rotations = random_rotations(64, torch.Generator().manual_seed(0), dtype=F64)
    eye = torch.eye(3, dtype=F64).expand(64, 3, 3)
    assert torch.allclose(rotations @ rotations.mT, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(rotations), torch.ones(64, dtype=F64), atol=1e-12)
    assert torch.equal(rotations, random_rotations(64, torch.Generator().manual_seed(0), dtype=F64))


def test_random_rotations_follow_the_haar_measure() -> None:
    """Under Haar measure E[R] = 0 and E[tr(R)^2] = 1 (the 3-d representation is irreducible)."""
    rotations = random_rotations(20000, torch.Generator().manual_seed(1), dtype=F64)
    trace = rotations.diagonal(dim1=-2, dim2=-1).sum(-1)
    assert rotations.mean(0).abs().max() < 0.03
    assert abs(float(trace.square().mean()) - 1.0) < 0.05


def test_quaternion_round_trip() -> None:
    quaternions = random_quaternions(100, torch.Generator().manual_seed(2), dtype=F64)
    recovered = matrix_to_quaternion(quaternion_to_matrix(quaternions))
    same_sign = torch.where((recovered * quaternions).sum(-1, keepdim=True) < 0, -recovered, recovered)
    assert torch.allclose(same_sign, quaternions, atol=1e-12)


def test_axis_angle_matches_rodrigues_and_round_trips() -> None:
    angle = 0.7
    rotation = axis_angle_to_matrix(torch.tensor([0.0, 0.0, angle], dtype=F64))
    cos, sin = math.cos(angle), math.sin(angle)
    expected = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0], [0.0, 0.0, 1.0]], dtype=F64)
    assert torch.allclose(rotation, expected, atol=1e-14)
    generator = torch.Generator().manual_seed(3)
    axes = torch.nn.functional.normalize(torch.randn(50, 3, generator=generator, dtype=F64), dim=-1)
    vectors = axes * torch.rand(50, 1, generator=generator, dtype=F64) * 3.0
    assert torch.allclose(matrix_to_axis_angle(axis_angle_to_matrix(vectors)), vectors, atol=1e-10)
