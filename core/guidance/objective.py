r"""Objective-gradient guidance: tilt the sampled law by :math:`\exp(-\gamma\,J(\hat x_0(x_t)))`.

A user cost :math:`J(x_0) \in \mathbb{R}^B` (e.g. a PDE control cost) with scale :math:`\gamma` steers
sampling through the score correction (the DPS construction, Chung et al. 2023, Eq. 16, with the
log-likelihood replaced by :math:`-\gamma J`), differentiating through the denoiser:

.. math::
    s'(x_t) = s(x_t) - \gamma\, g, \qquad g = \nabla_{x_t} J(\hat x_0(x_t)).

Tweedie's formula :math:`\hat x_0 = (x_t + \sigma^2 s)/\alpha` and :math:`\hat\varepsilon = -\sigma s`
turn it into the returned estimates

.. math::
    \hat x_0' = \hat x_0 - \frac{\sigma^2}{\alpha}\, \gamma\, g, \qquad
    \hat\varepsilon' = \hat\varepsilon + \sigma\, \gamma\, g,

which keep :math:`x_t = \alpha \hat x_0' + \sigma \hat\varepsilon'`. A DDIM step t -> u with the wrapped
denoiser moves x_u by the extra :math:`-\gamma\, g\; \sigma_t\alpha_u(\sigma_t/\alpha_t - \sigma_u/\alpha_u)`
(for small steps on a VP DDPM grid, beta_i / 2 times gamma g: half the ancestral step's displacement).
Where alpha(t) = 0, x_t carries no information on x0, the exact correction is zero and none is applied.

Options (both off by default): ``jacobian=False`` uses :math:`g = \nabla_{x_0} J` at :math:`\hat x_0`
(the denoiser is not differentiated: one network pass, no backward through it; the guidance of the
DiffPhyCon / WDNO code), and ``schedule(t) -> [B]`` multiplies gamma per sample (a noise-level schedule).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser, DenoiserWrapper

Objective = Callable[[Tensor], Tensor]
"""``J(x0 [B, ...]) -> [B]``, differentiable in x0."""


def x0_eps_and_x0_grad(denoiser: Denoiser, x_t: Tensor, t: Tensor,
                       objective: Objective) -> tuple[Tensor, Tensor, Tensor]:
    r"""Estimates and :math:`\nabla_{x_0} J` at :math:`\hat x_0(x_t)`, without differentiating the denoiser.

    Shapes:
        x_t: ``[B, ...]``; t: ``[B]``; returns (x0_hat, eps_hat, grad), each shaped like ``x_t``, detached.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("gradient guidance needs autograd: use torch.no_grad(), not inference_mode()")
    with torch.no_grad():
        x0, eps = denoiser.x0_eps(x_t, t)
    with torch.enable_grad():
        x = x0.detach().requires_grad_(True)
        total = objective(x).sum()
        grad = (torch.autograd.grad(total, x, materialize_grads=True)[0] if total.requires_grad
                else torch.zeros_like(x))
    return x0, eps, grad


def x0_eps_and_grad(denoiser: Denoiser, x_t: Tensor, t: Tensor,
                    objective: Objective) -> tuple[Tensor, Tensor, Tensor]:
    r"""Estimates and the gradient :math:`\nabla_{x_t} J(\hat x_0(x_t))` through the denoiser.

    If ``x_t`` is already part of an autograd graph (an outer guidance wrapper differentiates through this
    one), the estimates and the gradient stay attached to it (double backward), so the outer gradient is
    exact; otherwise all three are detached.

    Shapes:
        x_t: ``[B, ...]``; t: ``[B]``; returns (x0_hat, eps_hat, grad), each shaped like ``x_t``.
    """
    if torch.is_inference_mode_enabled():
        raise RuntimeError("gradient guidance needs autograd: use torch.no_grad(), not inference_mode()")
    attached = x_t.requires_grad
    with torch.enable_grad():
        x = x_t if attached else x_t.detach().requires_grad_(True)
        x0, eps = denoiser.x0_eps(x, t)
        total = objective(x0).sum()
        grad = (torch.autograd.grad(total, x, create_graph=attached, materialize_grads=True)[0]
                if total.requires_grad else torch.zeros_like(x))
    if not attached:
        x0, eps = x0.detach(), eps.detach()
    return x0, eps, grad


def shift_score(x0: Tensor, eps: Tensor, delta_score: Tensor, alpha: Tensor,
                sigma: Tensor) -> tuple[Tensor, Tensor]:
    """(x0_hat, eps_hat) after adding ``delta_score`` to the score at the same x_t.

    x0 moves by sigma^2 / alpha * delta and eps by -sigma * delta; samples with alpha = 0 are left unchanged.
    ``alpha`` and ``sigma`` broadcast against ``x0`` (``[B, 1, ..., 1]``).
    """
    informative = alpha > 0
    delta = torch.where(informative, delta_score, torch.zeros_like(delta_score))
    return x0 + sigma.square() / torch.where(informative, alpha, 1.0) * delta, eps - sigma * delta


@dataclass
class ObjectiveGuidance(DenoiserWrapper):
    """Denoiser whose score is corrected by ``-scale * grad_{x_t} J(x0_hat(x_t))`` (see module docstring).

    Args:
        inner: the denoiser to guide.
        objective: ``J(x0 [B, ...]) -> [B]`` (lower is better).
        scale: the guidance strength gamma (units of 1 / J).
        jacobian: differentiate through the denoiser (``grad_{x_t}``); False: ``grad_{x0}`` at x0_hat.
        schedule: ``schedule(t [B]) -> [B]`` multiplying gamma (None: constant 1).
    """

    objective: Objective
    scale: float
    jacobian: bool = True
    schedule: Callable[[Tensor], Tensor] | None = None

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        gradient = x0_eps_and_grad if self.jacobian else x0_eps_and_x0_grad
        x0, eps, grad = gradient(self.inner, x_t, t, self.objective)
        alpha, sigma, _, _ = self.process.coefficients(t, x_t)
        scale = self.scale
        if self.schedule is not None:
            scale = scale * self.schedule(t).to(x_t.dtype).reshape(-1, *([1] * (x_t.dim() - 1)))
        return shift_score(x0, eps, -scale * grad, alpha, sigma)


def objective_guidance(denoiser: Denoiser, objective: Objective, scale: float, *, jacobian: bool = True,
                       schedule: Callable[[Tensor], Tensor] | None = None) -> ObjectiveGuidance:
    """Guide ``denoiser`` towards low ``objective`` (score += -scale * grad_{x_t} J(x0_hat(x_t))).

    ``jacobian=False``: grad_{x0} J at x0_hat instead (no backward through the denoiser); ``schedule(t)``
    multiplies ``scale`` per sample.
    """
    return ObjectiveGuidance(denoiser, objective, scale, jacobian, schedule)
