r"""Filtered back-projection's filter: the band-limited Ram-Lak ramp applied by FFT along the detector.

The discrete ramp (Kak & Slaney 1988, eq. 61, detector spacing tau = 1):
:math:`h(0) = 1/4`, :math:`h(n) = -1/(\pi n)^2` for odd n, 0 for even n != 0. Its discrete convolution
with each view (zero-padded to a power of two >= 2L to avoid wrap-around) is done with one real FFT; the
spatial-domain design keeps the DC term right (no cupping). FBP is then
:math:`\Delta\theta\, A^\top (h * p)` (see :meth:`ParallelBeamCT.A_dagger`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def ramp_kernel(length: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """Ram-Lak taps for a periodic buffer of ``length`` (``[length]``, index n and length - n both = h(n))."""
    n = torch.arange(length, dtype=dtype)
    n = torch.minimum(n, length - n)
    taps = torch.where(n % 2 == 1, -1.0 / (math.pi * n.clamp_min(1)).square(), torch.zeros_like(n))
    taps[0] = 0.25
    return taps


def filter_sinogram(sinogram: Tensor) -> Tensor:
    """Ramp-filtered sinogram ``[..., V, L]`` (same shape), differentiable."""
    detectors = sinogram.shape[-1]
    padded = 1 << (2 * detectors - 1).bit_length()
    response = torch.fft.rfft(ramp_kernel(padded, sinogram.dtype).to(sinogram.device))
    spectrum = torch.fft.rfft(sinogram, n=padded, dim=-1) * response
    return torch.fft.irfft(spectrum, n=padded, dim=-1)[..., :detectors]
