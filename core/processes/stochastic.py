r"""Stochastic interpolants (Albergo, Boffi & Vanden-Eijnden 2023).

In genforge's time convention (t = 0 data, t = 1 source) the interpolant between a data sample ``x0``, a
source sample ``x1`` and a latent :math:`z \sim N(0, I)` independent of both is (their Definition 2.1 with
:math:`I = \alpha x_0 + \beta x_1`; their t is our 1 - t, which swaps the names of alpha and beta)

.. math::
    x_t = \alpha(t) x_0 + \beta(t) x_1 + \gamma(t) z, \qquad \gamma(t) = \sqrt{a\,t(1-t)},

with :math:`(\alpha, \beta) = (1 - t, t)` (linear) or :math:`(\cos\frac{\pi t}{2}, \sin\frac{\pi t}{2})`
(trig). The drift is :math:`b(t, x) = E[\dot\alpha x_0 + \dot\beta x_1 + \dot\gamma z \mid x_t = x]`
(their Sec. 2.2) and the denoiser :math:`\eta_z(t, x) = E[z \mid x_t = x]`, which gives the score
:math:`-\eta_z / \gamma`.

Any paired source (e.g. reactant/product geometries for transition states) goes through
:meth:`StochasticInterpolant.corrupt_pair` and :meth:`~StochasticInterpolant.target_pair`. With an
independent Gaussian source :math:`x_1 \sim N(0, I)`, :math:`\beta x_1 + \gamma z = \sigma\varepsilon` with
:math:`\sigma = \sqrt{\beta^2 + \gamma^2}`, and :math:`E[\dot\beta x_1 + \dot\gamma z \mid x_0, \varepsilon] =
\dot\sigma \varepsilon` with :math:`\dot\sigma = (\beta\dot\beta + \gamma\dot\gamma)/\sigma`: the interpolant
is then the Gaussian path (alpha, sigma), with the same drift and a lower-variance regression target, and
every Gaussian-path solver applies. The Process interface methods use that view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.processes.base import expand_like
from genforge.core.processes.gaussian import GaussianPath

INTERPOLATIONS = ("linear", "trig")
PAIR_TARGETS = ("velocity", "noise")


@dataclass(frozen=True)
class StochasticInterpolant(GaussianPath):
    """x_t = alpha(t) x0 + beta(t) x1 + sqrt(a t (1 - t)) z between data x0 (t = 0) and source x1 (t = 1).

    Args:
        prediction: the network output kind for the Gaussian-source view (default ``velocity``, the drift b).
        interpolation: ``linear`` (alpha = 1 - t, beta = t) or ``trig`` (alpha = cos, beta = sin of pi t / 2).
        a: latent noise scale, gamma(t)^2 = a t (1 - t); a = 0 gives a deterministic interpolant.
        time_margin: training times are drawn from [margin, 1 - margin], where gamma' stays finite.
    """

    prediction: str = "velocity"
    interpolation: str = "linear"
    a: float = 1.0
    time_margin: float = 1e-3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {self.interpolation!r}")
        if self.a < 0:
            raise ValueError(f"a must be >= 0, got {self.a}")

    def alpha(self, t: Tensor) -> Tensor:
        """Data coefficient alpha(t)."""
        return 1.0 - t if self.interpolation == "linear" else torch.cos(0.5 * math.pi * t)

    def d_alpha(self, t: Tensor) -> Tensor:
        if self.interpolation == "linear":
            return -torch.ones_like(t)
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)

    def beta(self, t: Tensor) -> Tensor:
        """Source coefficient beta(t)."""
        return t.clone() if self.interpolation == "linear" else torch.sin(0.5 * math.pi * t)

    def d_beta(self, t: Tensor) -> Tensor:
        """d beta / dt."""
        if self.interpolation == "linear":
            return torch.ones_like(t)
        return 0.5 * math.pi * torch.cos(0.5 * math.pi * t)

    def gamma(self, t: Tensor) -> Tensor:
        """Latent noise scale gamma(t) = sqrt(a t (1 - t))."""
        return torch.sqrt((self.a * t * (1.0 - t)).clamp_min(0.0))

    def d_gamma(self, t: Tensor) -> Tensor:
        """d gamma / dt = a (1 - 2t) / (2 gamma); infinite at t = 0 and t = 1 when a > 0."""
        return self.a * (1.0 - 2.0 * t) / (2.0 * self.gamma(t))

    def sigma(self, t: Tensor) -> Tensor:
        """Total noise scale of the Gaussian-source view, sqrt(beta^2 + gamma^2)."""
        return torch.sqrt(self.beta(t).square() + self.a * t * (1.0 - t))

    def d_sigma(self, t: Tensor) -> Tensor:
        """(beta beta' + gamma gamma') / sigma with gamma gamma' = a (1 - 2t) / 2."""
        return (self.beta(t) * self.d_beta(t) + 0.5 * self.a * (1.0 - 2.0 * t)) / self.sigma(t)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]`` uniform on [time_margin, 1 - time_margin]."""
        u = torch.rand(batch, generator=generator, device=device)
        return self.time_margin + (1.0 - 2.0 * self.time_margin) * u

    def corrupt_pair(self, x0: Tensor, x1: Tensor, t: Tensor, z: Tensor) -> Tensor:
        """x_t = alpha x0 + beta x1 + gamma z for a paired source ``x1`` (shaped like ``x0``; t ``[B]``)."""
        return (expand_like(self.alpha(t), x0) * x0 + expand_like(self.beta(t), x0) * x1
                + expand_like(self.gamma(t), x0) * z)

    def target_pair(self, x0: Tensor, x1: Tensor, z: Tensor, t: Tensor, kind: str = "velocity") -> Tensor:
        """Regression target for a paired source: the drift b or the denoiser's target z.

        ``velocity``: alpha' x0 + beta' x1 + gamma' z = d x_t / dt along fixed (x0, x1, z), whose
        conditional mean is the drift b. ``noise``: z, whose conditional mean is the denoiser eta_z.
        """
        if kind == "noise":
            return z
        if kind != "velocity":
            raise ValueError(f"kind must be one of {PAIR_TARGETS}, got {kind!r}")
        return (expand_like(self.d_alpha(t), x0) * x0 + expand_like(self.d_beta(t), x0) * x1
                + expand_like(self.d_gamma(t), x0) * z)
