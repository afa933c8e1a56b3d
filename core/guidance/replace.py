r"""Replacement conditioning: inpainting and known channels (e.g. a PDE's initial state u0).

The replacement method (Song et al. 2021, "Score-Based Generative Modeling through SDEs", App. I.2;
RePaint, Lugmayr et al. 2022, Eq. 8, without resampling) keeps the known entries (``mask`` True) of x_t on
the forward marginal of the data y, :math:`x_t^{known} = \alpha_t y + \sigma_t z`, while the solver
updates the unknown ones. Two forms:

* :func:`inpaint` (what the solvers use, as they only see a denoiser): returns :math:`\hat x_0` with
  the known entries set to y and, there, :math:`\hat\varepsilon = (x_t - \alpha y)/\sigma`, so that
  :math:`x_t = \alpha \hat x_0 + \sigma \hat\varepsilon` still holds. A DDIM step then gives
  :math:`x_u^{known} = \alpha_u y + \sigma_u \hat\varepsilon`: replacement whose noise z is the one
  carried from x_1 (stochastic solvers refresh part of it), and y exactly at t = 0.
* :func:`replace_step` (for hand-written loops): overwrite the known entries of x_t with
  :math:`\alpha_t y + \sigma_t z` for fresh :math:`z \sim N(0, I)`, the original method.

Both are exact on components independent of the known ones and approximate otherwise (the unknown
entries never see the posterior of the noise in the known ones). Evaluate at t with sigma(t) > 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser, DenoiserWrapper
from genforge.core.processes.gaussian import GaussianPath


@dataclass
class Inpainting(DenoiserWrapper):
    """Denoiser whose estimates agree with the known values (see module docstring).

    Args:
        inner: the prior denoiser.
        mask: bool, broadcastable against x (``[B, ...]``, or e.g. ``[1, C, 1, 1]`` for known channels of
            ``[B, C, T, X]`` fields); True where the value is known.
        y: the known values, broadcastable against x (entries outside ``mask`` are ignored).
    """

    mask: Tensor
    y: Tensor

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        x0, eps = self.inner.x0_eps(x_t, t)
        alpha, sigma, _, _ = self.process.coefficients(t, x_t)
        y = self.y.to(x_t.dtype)
        return torch.where(self.mask, y, x0), torch.where(self.mask, (x_t - alpha * y) / sigma, eps)


def inpaint(denoiser: Denoiser, mask: Tensor, y: Tensor) -> Inpainting:
    """Condition ``denoiser`` on ``x0[mask] = y[mask]`` by replacement of its clean-data estimate."""
    return Inpainting(denoiser, mask, y)


def replace_step(x_t: Tensor, t: Tensor, mask: Tensor, y: Tensor, process: GaussianPath,
                 generator: torch.Generator | None = None) -> Tensor:
    """x_t with its known entries re-noised from y: ``alpha(t) y + sigma(t) z``, z ~ N(0, I) fresh.

    Shapes:
        x_t: ``[B, ...]``; t: ``[B]``; mask, y: broadcastable against x_t. Returns a new ``[B, ...]``.
    """
    y = y.to(x_t.dtype).expand_as(x_t)
    noised = process.corrupt(y, t.to(x_t.dtype), process.sample_noise(y, generator))
    return torch.where(mask, noised, x_t)

