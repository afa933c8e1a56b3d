r"""Conversions between the five things a network may predict for a Gaussian path.

With :math:`x_t = \alpha x_0 + \sigma \varepsilon` (and :math:`\dot\alpha, \dot\sigma` the time
derivatives) the table is

==========  ==================================================  ==============================================
kind        prediction from (x0, eps)                           (x0, eps) from the prediction p
==========  ==================================================  ==============================================
eps         eps                                                 x0 = (x - sigma p) / alpha
x0          x0                                                  eps = (x - alpha p) / sigma
v           alpha eps - sigma x0  (Salimans & Ho)               x0 = (alpha x - sigma p) / (alpha^2 + sigma^2)
score       -eps / sigma                                        eps = -sigma p
velocity    alpha' x0 + sigma' eps  (dx_t/dt, flow matching)    solve the 2x2 system [[alpha, sigma], [alpha', sigma']]
==========  ==================================================  ==============================================

Conversions that divide by alpha or sigma are singular where that coefficient is zero (e.g. x0 from
eps at alpha = 0); callers avoid those times.
"""

from __future__ import annotations

from torch import Tensor

PREDICTION_KINDS = ("eps", "x0", "v", "score", "velocity")


def from_x0_eps(kind: str, x0: Tensor, eps: Tensor, alpha: Tensor, sigma: Tensor,
                d_alpha: Tensor, d_sigma: Tensor) -> Tensor:
    """The prediction of ``kind`` given clean data and noise (all coefficients broadcastable)."""
    if kind == "eps":
        return eps
    if kind == "x0":
        return x0
    if kind == "v":
        return alpha * eps - sigma * x0
    if kind == "score":
        return -eps / sigma
    if kind == "velocity":
        return d_alpha * x0 + d_sigma * eps
    raise ValueError(f"unknown prediction kind {kind!r}; expected one of {PREDICTION_KINDS}")


def to_x0_eps(kind: str, pred: Tensor, x_t: Tensor, alpha: Tensor, sigma: Tensor,
              d_alpha: Tensor, d_sigma: Tensor) -> tuple[Tensor, Tensor]:
    """Recover (x0, eps) from a prediction of ``kind`` at x_t."""
    if kind == "eps":
        return (x_t - sigma * pred) / alpha, pred
    if kind == "x0":
        return pred, (x_t - alpha * pred) / sigma
    if kind == "v":
        norm = alpha.square() + sigma.square()
        return (alpha * x_t - sigma * pred) / norm, (sigma * x_t + alpha * pred) / norm
    if kind == "score":
        eps = -sigma * pred
        return (x_t - sigma * eps) / alpha, eps
    if kind == "velocity":
        det = alpha * d_sigma - sigma * d_alpha
        return (d_sigma * x_t - sigma * pred) / det, (alpha * pred - d_alpha * x_t) / det
    raise ValueError(f"unknown prediction kind {kind!r}; expected one of {PREDICTION_KINDS}")


def convert(pred: Tensor, src: str, dst: str, x_t: Tensor, alpha: Tensor, sigma: Tensor,
            d_alpha: Tensor, d_sigma: Tensor) -> Tensor:
    """Convert a prediction of kind ``src`` into kind ``dst`` at the same x_t."""
    if src == dst:
        return pred
    coeffs = (alpha, sigma, d_alpha, d_sigma)
    return from_x0_eps(dst, *to_x0_eps(src, pred, x_t, *coeffs), *coeffs)
