"""CT and MRI operators: adjointness, FBP quality, masks, differentiability, geometry round trip."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.core.metrics.image import psnr
from genforge.datasets.phantoms import shepp_logan
from genforge.domains.medical.fbp import ramp_kernel
from genforge.domains.medical.operators import (
    CartesianMRI,
    LinearOperator,
    ParallelBeamCT,
    centred_line_mask,
    operator_from_geometry,
)

OPERATORS = {
    **{f"ct-{views}-views": ParallelBeamCT.sparse_view(24, views) for views in (2, 4, 8, 16, 30)},
    "ct-limited-90": ParallelBeamCT.limited_angle(24, 90.0),
    "ct-limited-120": ParallelBeamCT.limited_angle(24, 120.0, step_degrees=3.0),
    "mri-uniform-x4": CartesianMRI.cartesian(24, 4, "uniform"),
    "mri-gaussian-x8": CartesianMRI.cartesian(24, 8, "gaussian", seed=3),
}


def _random_measurement(operator: LinearOperator, generator: torch.Generator, lead: tuple[int, ...]) -> torch.Tensor:
    shape = operator.A(torch.zeros(*lead, *operator.image_shape, dtype=torch.float64)).shape
    y = torch.randn(shape, generator=generator, dtype=torch.float64)
    if isinstance(operator, CartesianMRI):
        y = torch.complex(y, torch.randn(shape, generator=generator, dtype=torch.float64))
    return y


@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_adjoint(name: str, dtype: torch.dtype) -> None:
    """Re<A x, y> = <x, A^T y> on batched volumes [B, D, H, W], relative error <= 1e-4."""
    operator = OPERATORS[name]
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, *operator.image_shape, generator=generator, dtype=torch.float64)
    y = _random_measurement(operator, generator, (2, 3))
    x, y = x.to(dtype), y.to(torch.complex64 if y.is_complex() and dtype == torch.float32 else
                               (dtype if not y.is_complex() else y.dtype))
    lhs = (operator.A(x) * y.conj()).real.sum() if y.is_complex() else (operator.A(x) * y).sum()
    rhs = (x * operator.A_adjoint(y)).sum()
    assert abs(float(lhs - rhs)) <= 1e-4 * max(abs(float(lhs)), 1.0)


def test_batched_equals_slice_by_slice() -> None:
    operator = OPERATORS["ct-8-views"]
    x = torch.rand(4, 24, 24, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(operator.A(x), torch.stack([operator.A(s) for s in x]))


def test_gradient_flows_through_operators() -> None:
    for operator in (OPERATORS["ct-4-views"], OPERATORS["mri-uniform-x4"]):
        x = torch.rand(2, 24, 24, dtype=torch.float64, requires_grad=True)
        y = operator.A(torch.rand(2, 24, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(2)))
        loss = 0.5 * (operator.A(x) - y).abs().square().sum()
        (grad,) = torch.autograd.grad(loss, x)
        torch.testing.assert_close(grad, operator.A_adjoint(operator.A(x.detach()) - y))


def test_fbp_reconstructs_shepp_logan() -> None:
    """Full-scan FBP of the Shepp-Logan slice is accurate; the ramp filter keeps the mean (no cupping)."""
    image = shepp_logan((3, 64, 64))[1]
    operator = ParallelBeamCT.sparse_view(64, 90)
    recon = operator.A_dagger(operator.A(image))
    assert float(psnr(recon.clamp(0, 1)[None], image[None])) > 20.0
    assert abs(float(recon.mean() - image.mean())) < 0.01 * float(image.max())
    sparse = ParallelBeamCT.sparse_view(64, 8).A_dagger(ParallelBeamCT.sparse_view(64, 8).A(image))
    assert float(psnr(sparse.clamp(0, 1)[None], image[None])) < float(psnr(recon.clamp(0, 1)[None], image[None]))


def test_ramp_kernel_has_zero_dc_response_up_to_truncation() -> None:
    taps = ramp_kernel(256)
    response = torch.fft.rfft(taps).real
    assert abs(float(response[0])) < 0.01 and float(response[-1]) == pytest.approx(0.5, abs=0.01)


def test_line_integral_of_a_constant_disc() -> None:
    """A disc of radius r projects to 2 sqrt(r^2 - s^2) at every angle (units: pixels)."""
    size, radius = 48, 15.0
    coords = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    disc = ((coords[:, None] ** 2 + coords[None, :] ** 2) <= radius ** 2).to(torch.float64)
    operator = ParallelBeamCT(size, torch.tensor([0.0, 0.7, math.pi / 2]))
    centre = operator.A(disc)[:, (operator.detectors - 1) // 2]
    torch.testing.assert_close(centre, torch.full_like(centre, 2 * radius), atol=1.5, rtol=0.0)


@pytest.mark.parametrize("pattern", ["uniform", "gaussian"])
@pytest.mark.parametrize("acceleration", [4, 8])
def test_mask_acceleration_and_centre(pattern: str, acceleration: int) -> None:
    mask = centred_line_mask(64, acceleration, pattern, seed=1)
    lines = mask[:, 0]
    assert int(lines.sum()) == 64 // acceleration
    assert bool(lines[31:34].all())  # the fully sampled centre around DC (row 32)
    assert bool((mask == lines[:, None]).all())


def test_mri_norms_and_geometry_round_trip() -> None:
    """Fully sampled: A^T A = I (orthonormal FFT); undersampled: ||A x|| < ||x||. Geometry rebuilds the operator."""
    x = torch.rand(2, 32, 32, dtype=torch.float64)
    full = CartesianMRI(torch.ones(32, 32, dtype=torch.bool))
    torch.testing.assert_close(full.A_adjoint(full.A(x)), x)
    operator = CartesianMRI.cartesian(32, 4, "gaussian", seed=5)
    y = operator.A(x)
    assert float(y.abs().norm()) < float(x.norm())
    rebuilt = operator_from_geometry(operator.geometry())
    torch.testing.assert_close(rebuilt.A(x), y)
    ct = ParallelBeamCT.limited_angle(16, 90.0)
    torch.testing.assert_close(operator_from_geometry(ct.geometry()).A(x[:, :16, :16]), ct.A(x[:, :16, :16]))
    with pytest.raises(ValueError, match="modality"):
        operator_from_geometry({"modality": "pet", "size": 4})
