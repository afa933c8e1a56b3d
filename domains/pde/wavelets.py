r"""Single-level discrete wavelet transform with periodization, as strided convolutions (differentiable).

Matches ``pywt.dwt`` / ``pywt.idwt`` / ``pywt.dwt2`` with ``mode="periodization"`` for any filter bank of
even length L (the bior / rbio / db / sym families): for even N,

.. math::
    a_k = \sum_j h_j\, x_{(2k + L/2 - j) \bmod N}, \qquad
    x_n = \sum_k \sum_j (\tilde h_j a_k + \tilde g_j d_k)\, [n \equiv 2k + 1 - L/2 + j \pmod N],

with (h, g) the decomposition and (h~, g~) the reconstruction filters. An odd length is first extended by
repeating its last sample (pywt does the same), giving ceil(N / 2) coefficients.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def filter_bank(name: str) -> Tensor:
    """``[4, L]`` float64: dec_lo, dec_hi, rec_lo, rec_hi of the pywt wavelet ``name`` (e.g. ``bior2.4``).

    pywt stores every discrete wavelet with an even filter length (zero-padded where needed).
    """
    import pywt

    wavelet = pywt.Wavelet(name)
    return torch.tensor([wavelet.dec_lo, wavelet.dec_hi, wavelet.rec_lo, wavelet.rec_hi], dtype=torch.float64)


def dwt1d(x: Tensor, bank: Tensor) -> Tensor:
    """Periodized single-level DWT along the last axis.

    Shapes:
        x ``[..., N]`` -> ``[..., 2, ceil(N / 2)]`` (approximation, detail).
    """
    if x.shape[-1] % 2:
        x = torch.cat([x, x[..., -1:]], dim=-1)
    n, length = x.shape[-1], bank.shape[1]
    pad = length // 2 - 1
    if pad > n:
        raise ValueError(f"signal of length {n} is shorter than the filter's periodic padding {pad}")
    flat = x.reshape(-1, 1, n)
    flat = F.pad(flat, (pad, pad), mode="circular") if pad else flat
    weight = bank[:2].flip(-1).unsqueeze(1).to(x)
    out = F.conv1d(flat, weight, stride=2)
    return out.reshape(*x.shape[:-1], 2, n // 2)


def idwt1d(coeffs: Tensor, bank: Tensor) -> Tensor:
    """Inverse of :func:`dwt1d` along the last axis (even-length output).

    Shapes:
        coeffs ``[..., 2, M]`` -> ``[..., 2 M]``.
    """
    m, length = coeffs.shape[-1], bank.shape[1]
    n, pad = 2 * m, length // 2 - 1
    flat = coeffs.reshape(-1, 2, m)
    out = F.conv_transpose1d(flat, bank[2:].unsqueeze(1).to(coeffs), stride=2)
    y = out[..., pad:pad + n]
    tail, head = out[..., pad + n:], out[..., :pad]
    if tail.shape[-1]:
        y = torch.cat([y[..., :tail.shape[-1]] + tail, y[..., tail.shape[-1]:]], dim=-1)
    if head.shape[-1]:
        y = torch.cat([y[..., :n - pad], y[..., n - pad:] + head], dim=-1)
    return y.reshape(*coeffs.shape[:-2], n)


def _permute_tail(x: Tensor, order: tuple[int, ...]) -> Tensor:
    """Permute the last ``len(order)`` axes of ``x`` (``order`` indexes those axes from 0)."""
    lead = x.dim() - len(order)
    return x.permute(*range(lead), *(lead + i for i in order))


def dwt2d(x: Tensor, bank: Tensor) -> Tensor:
    """Single-level 2-D DWT over the last two axes, subbands in pywt.dwt2 order (aa, da, ad, dd).

    Shapes:
        x ``[..., H, W]`` -> ``[..., 4, ceil(H / 2), ceil(W / 2)]``; in ``da`` the first letter is the
        filter along H (so ``da`` = pywt's horizontal detail cH).
    """
    along_w = dwt1d(x, bank)                                        # [..., H, w, K]
    along_h = dwt1d(_permute_tail(along_w, (1, 2, 0)), bank)        # [..., w, K, h, M]
    out = _permute_tail(along_h, (0, 2, 3, 1))                      # [..., w, h, M, K]
    return out.reshape(*out.shape[:-4], 4, *out.shape[-2:])


def idwt2d(coeffs: Tensor, bank: Tensor) -> Tensor:
    """Inverse of :func:`dwt2d`. Shapes: ``[..., 4, M, K]`` -> ``[..., 2 M, 2 K]``."""
    c = coeffs.reshape(*coeffs.shape[:-3], 2, 2, *coeffs.shape[-2:])  # [..., w, h, M, K]
    along_h = idwt1d(_permute_tail(c, (0, 3, 1, 2)), bank)          # [..., w, K, H]
    return idwt1d(_permute_tail(along_h, (2, 0, 1)), bank)          # [..., H, W]


def dwtn(x: Tensor, bank: Tensor, ndim: int) -> Tensor:
    """Single-level periodized DWT over the last ``ndim`` axes, subbands in ``pywt.dwtn`` key order.

    Shapes:
        x ``[..., N_1, ..., N_d]`` -> ``[..., 2^d, ceil(N_1 / 2), ..., ceil(N_d / 2)]``; subband index
        ``sum_i b_i 2^(d - 1 - i)`` with b_i = 1 for the detail filter along axis i (so 0 = 'aa..a', 1 = 'a..ad',
        2^d - 1 = 'dd..d', the order of ``itertools.product('ad', repeat=d)``).
    """
    lead = x.dim() - ndim
    out = x.unsqueeze(lead)                                                # [..., S = 1, N_1, ..., N_d]
    for i in range(ndim):
        axis = lead + 1 + i
        coeffs = dwt1d(out.movedim(axis, -1), bank)                        # [..., S, others, 2, M_i]
        out = coeffs.movedim(-1, axis).movedim(-1, lead + 1).flatten(lead, lead + 1)
    return out


def idwtn(coeffs: Tensor, bank: Tensor, ndim: int) -> Tensor:
    """Inverse of :func:`dwtn`. Shapes: ``[..., 2^d, M_1, ..., M_d]`` -> ``[..., 2 M_1, ..., 2 M_d]``."""
    lead = coeffs.dim() - ndim - 1
    out = coeffs
    for i in reversed(range(ndim)):
        axis = lead + 1 + i
        split = out.unflatten(lead, (-1, 2)).movedim(lead + 1, -1)         # [..., S / 2, M..., 2]
        out = idwt1d(split.movedim(axis, -1), bank).movedim(-1, axis)      # [..., S / 2, ..., N_i, ...]
    return out.squeeze(lead)
