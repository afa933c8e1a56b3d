r"""The von Mises distribution vM(mu, kappa) on the circle (radians): entropy, sampling, sender accuracies.

Used by the periodic Bayesian flow (CrysBFN, Wu et al. 2025). With :math:`A(\kappa) = I_1(\kappa)/I_0(\kappa)`
the mean resultant length, the entropy is
:math:`H(\kappa) = \log(2\pi I_0(\kappa)) - \kappa A(\kappa)`, from :math:`\log 2\pi` (uniform, kappa = 0)
down to about :math:`\tfrac12\log(2\pi e/\kappa)` for large kappa. Everything is computed in float64.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.special import i0e, i1e

QUADRATURE_NODES = 256
"""Trapezoid nodes for expectations under vM(0, alpha), spread over |delta| <= min(pi, 12 / sqrt(alpha))."""

_BISECTION_STEPS = 50


def mean_resultant_length(kappa: Tensor) -> Tensor:
    """A(kappa) = I_1(kappa) / I_0(kappa) = E[cos(theta - mu)] under vM(mu, kappa)."""
    kappa = kappa.double()
    return i1e(kappa) / i0e(kappa)


def von_mises_entropy(kappa: Tensor) -> Tensor:
    """Differential entropy (nats) log(2 pi I_0(kappa)) - kappa A(kappa), elementwise."""
    kappa = kappa.double()
    return math.log(2.0 * math.pi) + torch.log(i0e(kappa)) + kappa * (1.0 - mean_resultant_length(kappa))


def concentration_for_entropy(entropy: Tensor, kappa_max: float) -> Tensor:
    """Inverse of :func:`von_mises_entropy` on [0, kappa_max] by bisection in log kappa (0 at log 2 pi)."""
    entropy = entropy.double()
    lo = torch.full_like(entropy, math.log(1e-12))
    hi = torch.full_like(entropy, math.log(kappa_max))
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        too_concentrated = von_mises_entropy(mid.exp()) < entropy
        hi = torch.where(too_concentrated, mid, hi)
        lo = torch.where(too_concentrated, lo, mid)
    kappa = (0.5 * (lo + hi)).exp()
    return torch.where(entropy >= math.log(2.0 * math.pi), torch.zeros_like(kappa), kappa)


def expected_resultant_length(c: Tensor, alpha: Tensor) -> Tensor:
    r""":math:`E_{\delta \sim vM(0, \alpha)} |c + \alpha e^{i\delta}|`, elementwise.

    The concentration after one Bayesian update of vM(m, c) by a sender sample at the input mean. Trapezoid
    rule on |delta| <= min(pi, 12 / sqrt(alpha)): the periodic rule when the support is the whole circle,
    else a window of +-12 standard deviations outside which the weight is below e^-72.
    """
    c, alpha = torch.broadcast_tensors(c.double(), alpha.double())
    nodes = torch.linspace(-1.0, 1.0, QUADRATURE_NODES + 1, dtype=torch.float64, device=c.device)[:-1]
    half_width = (12.0 / alpha.clamp_min(1e-12).sqrt()).clamp_max(math.pi)
    cos_delta = torch.cos(half_width[..., None] * nodes)
    weights = torch.exp(alpha[..., None] * (cos_delta - 1.0))
    length = torch.sqrt((c.square() + alpha.square())[..., None] + 2.0 * (c * alpha)[..., None] * cos_delta)
    return (weights * length).sum(-1) / weights.sum(-1)


def sender_accuracy(c_from: Tensor, c_to: Tensor) -> Tensor:
    r"""Sender accuracy alpha with :math:`E|c_{from} + \alpha e^{i\delta}| = c_{to}`, delta ~ vM(0, alpha).

    The CrysBFN schedule rule (their reference implementation's linear-entropy search): the update is taken
    at the input mean (m = x) with the concentration at its scheduled value. Bisection on
    [d, d + 2 sqrt(d)], d = c_to - c_from >= 0: the lower end because |c + alpha e^(i delta)| <= c + alpha,
    the upper because the mean length exceeds c + alpha A(alpha) >= c + alpha^2 / (alpha + 2) (Amos 1974).
    """
    gap = (c_to.double() - c_from.double()).clamp_min(0.0)
    lo, hi = gap, gap + 2.0 * gap.sqrt()
    for _ in range(_BISECTION_STEPS):
        mid = 0.5 * (lo + hi)
        too_accurate = expected_resultant_length(c_from, mid) > c_to
        hi = torch.where(too_accurate, mid, hi)
        lo = torch.where(too_accurate, lo, mid)
    return 0.5 * (lo + hi)


def sample_von_mises(loc: Tensor, concentration: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Angles ~ vM(loc, concentration) in [-pi, pi) (Best & Fisher 1979 rejection sampler), float64.

    ``loc`` and ``concentration`` broadcast together; each round redraws only the rejected entries
    (acceptance >= 66%), so the number of rounds grows like log(number of samples).
    """
    loc, kappa = torch.broadcast_tensors(loc.double(), concentration.double())
    flat_kappa = kappa.reshape(-1).clamp_min(1e-8)
    tau = 1.0 + torch.sqrt(1.0 + 4.0 * flat_kappa.square())
    rho = (tau - torch.sqrt(2.0 * tau)) / (2.0 * flat_kappa)
    proposal = torch.where(flat_kappa < 1e-5, 1.0 / flat_kappa + flat_kappa,
                           (1.0 + rho.square()) / (2.0 * rho))
    angles = torch.empty_like(flat_kappa)
    pending = torch.arange(flat_kappa.numel(), device=flat_kappa.device)
    while pending.numel() > 0:
        u1, u2, u3 = torch.rand((3, pending.numel()), generator=generator, dtype=torch.float64,
                                device=flat_kappa.device).unbind(0)
        z = torch.cos(math.pi * u1)
        r = proposal[pending]
        f = (1.0 + r * z) / (r + z)
        c = flat_kappa[pending] * (r - f)
        accept = (c * (2.0 - c) > u2) | (torch.log(c / u2) + 1.0 - c >= 0.0)
        angles[pending[accept]] = torch.sign(u3[accept] - 0.5) * torch.acos(f[accept].clamp(-1.0, 1.0))
        pending = pending[~accept]
    return torch.remainder(loc + angles.reshape(loc.shape) + math.pi, 2.0 * math.pi) - math.pi
