r"""Diffusion Posterior Sampling (Chung et al. 2023, "Diffusion Posterior Sampling for General Noisy
Inverse Problems", ICLR).

Alg. 1 (Gaussian noise) follows each unconditional step with
:math:`x_{i-1} \mathrel{-}= \zeta_i \nabla_{x_i} \lVert y - A(\hat x_0(x_i)) \rVert_2^2` and the step
:math:`\zeta_i = \zeta' / \lVert y - A(\hat x_0(x_i)) \rVert_2`; since
:math:`\nabla \lVert r \rVert^2 / \lVert r \rVert = 2 \nabla \lVert r \rVert`, that is a constant step
:math:`2\zeta'` on the gradient of the plain norm (the form of the authors' code). As a denoiser wrapper it
is the score correction of their Eq. 16 with that norm,

.. math::
    s'(x_t) = s(x_t) - \zeta\, \nabla_{x_t} \lVert y - A(\hat x_0(x_t)) \rVert_2,

i.e. :func:`~genforge.core.guidance.objective.objective_guidance` with the cost
:math:`J = \lVert y - A \hat x_0 \rVert` per sample (not over the batch) and scale zeta. With
:math:`\rho = \sigma/\alpha`, a step t -> u of the wrapped denoiser adds
:math:`-\zeta\, c(t, u)\, \nabla_{x_t} \lVert r \rVert` to the step's mean, with
:math:`c = \sigma_t \alpha_u (\rho_t - \rho_u)` for DDIM (about beta_i / 2 on a VP DDPM grid) and
:math:`c = \sigma_t \alpha_u (\rho_t^2 - \rho_u^2) / \rho_t` for the ancestral (DDPM) step the paper uses
(about beta_i). The paper's update with zeta' on a given grid is therefore ``zeta = 2 zeta' / c(t, u)``; here
zeta is a rate per unit of the step factor, so results do not depend on the number of steps.

The literal alternative, the plain norm divided by its own value (the gradient of zeta log ||r||), is
singular as the residual vanishes: on low-dimensional problems, where it can, its residuals grow with zeta.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.guidance.objective import ObjectiveGuidance

ForwardFn = Callable[[Tensor], Tensor]
"""Measurement operator ``A(x0 [B, ...]) -> y [B, ...]``, differentiable."""


def forward_operator(operator: ForwardFn | Any) -> ForwardFn:
    """The callable A of ``operator``: its ``A`` attribute if it has one (deepinv physics), else itself."""
    return getattr(operator, "A", operator)


@dataclass(frozen=True)
class ResidualNorm:
    r"""DPS cost :math:`\lVert y - A(x_0) \rVert_2` per sample: ``x0 [B, ...] -> [B]``."""

    forward: ForwardFn
    y: Tensor

    def __call__(self, x0: Tensor) -> Tensor:
        return torch.linalg.vector_norm((self.y - self.forward(x0)).flatten(1), dim=1)


def dps(denoiser: Denoiser, operator: ForwardFn | Any, y: Tensor, zeta: float) -> ObjectiveGuidance:
    """DPS-guided denoiser: score -= zeta * grad_{x_t} ||y - A(x0_hat(x_t))|| (see module docstring).

    Args:
        denoiser: the prior denoiser (any wrapper included; the gradient flows through it).
        operator: A as a callable or an object with an ``A`` method.
        y: measurements ``[B, ...]`` (or broadcastable against ``A(x0)``).
        zeta: step rate (units of 1 / y; ``2 zeta' / c(t, u)`` for the paper's zeta', see above).
    """
    return ObjectiveGuidance(denoiser, ResidualNorm(forward_operator(operator), y), zeta)
