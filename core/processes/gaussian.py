r"""Gaussian probability paths :math:`x_t = \alpha(t)\,x_0 + \sigma(t)\,\varepsilon`.

Every path here (VP linear / cosine, VE, EDM and the linear / trigonometric interpolants in
``interpolants.py``) shares this class: solvers and guidance only need ``alpha``, ``sigma`` and their
time derivatives. t = 0 is data, t = 1 is the prior.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.parametrization import PREDICTION_KINDS, from_x0_eps
from genforge.core.processes.base import Process, expand_like


@dataclass(frozen=True)
class GaussianPath(Process):
    """Base of all Gaussian paths.

    Args:
        prediction: what the network predicts: one of ``eps``, ``x0``, ``v``, ``score``, ``velocity``.
    """

    prediction: str = "eps"

    def __post_init__(self) -> None:
        if self.prediction not in PREDICTION_KINDS:
            raise ValueError(f"prediction must be one of {PREDICTION_KINDS}, got {self.prediction!r}")

    @abstractmethod
    def alpha(self, t: Tensor) -> Tensor:
        """Signal scale alpha(t), same shape as t."""

    @abstractmethod
    def sigma(self, t: Tensor) -> Tensor:
        """Noise scale sigma(t), same shape as t."""

    def d_alpha(self, t: Tensor) -> Tensor:
        """d alpha / dt (autograd by default; subclasses give closed forms)."""
        return _derivative(self.alpha, t)

    def d_sigma(self, t: Tensor) -> Tensor:
        """d sigma / dt (autograd by default; subclasses give closed forms)."""
        return _derivative(self.sigma, t)

    def log_snr(self, t: Tensor) -> Tensor:
        """lambda(t) = log(alpha^2 / sigma^2); decreasing in t, +inf at clean data when sigma(0) = 0."""
        return 2.0 * (torch.log(self.alpha(t)) - torch.log(self.sigma(t)))

    def t_from_log_snr(self, lam: Tensor, iters: int = 64) -> Tensor:
        """Invert ``log_snr`` by vectorised bisection on [0, 1] (float64, exact to ~1e-18)."""
        lo = torch.zeros_like(lam, dtype=torch.float64)
        hi = torch.ones_like(lam, dtype=torch.float64)
        lam = lam.to(torch.float64)
        for _ in range(iters):
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam
            lo = torch.where(above, mid, lo)
            hi = torch.where(above, hi, mid)
        return 0.5 * (lo + hi)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]``, uniform on (0, 1] by default."""
        u = torch.rand(batch, generator=generator, device=device)
        return u.clamp_min(1e-5)

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """x_1 = alpha(1) x0 + sigma(1) eps is approximated by sigma(1) * N(0, I)."""
        sigma_1 = float(self.sigma(torch.ones((), dtype=torch.float64)))
        return sigma_1 * torch.randn(shape, generator=generator, device=device, dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise shaped like x0."""
        return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = alpha(t) x0 + sigma(t) noise."""
        return expand_like(self.alpha(t), x0) * x0 + expand_like(self.sigma(t), x0) * noise

    def coefficients(self, t: Tensor, like: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(alpha, sigma, d_alpha, d_sigma) at t, each broadcastable against ``like``."""
        return tuple(expand_like(f(t).to(like.dtype), like)  # type: ignore[return-value]
                     for f in (self.alpha, self.sigma, self.d_alpha, self.d_sigma))

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """The network target for ``self.prediction`` (eps, x0, v, score or velocity)."""
        return from_x0_eps(self.prediction, x0, noise, *self.coefficients(t, x0))


def _derivative(fn, t: Tensor) -> Tensor:  # type: ignore[no-untyped-def]
    with torch.enable_grad():
        tt = t.detach().clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(tt).sum(), tt)
    return grad


@dataclass(frozen=True)
class VPLinear(GaussianPath):
    """Variance-preserving SDE with a linear beta schedule (DDPM / Song et al. 2021).

    log alpha(t) = -t^2 (beta_max - beta_min) / 4 - t beta_min / 2, sigma = sqrt(1 - alpha^2).
    """

    beta_min: float = 0.1
    beta_max: float = 20.0

    def _log_alpha(self, t: Tensor) -> Tensor:
        return -0.25 * t.square() * (self.beta_max - self.beta_min) - 0.5 * t * self.beta_min

    def alpha(self, t: Tensor) -> Tensor:
        return torch.exp(self._log_alpha(t))

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sqrt(-torch.expm1(2.0 * self._log_alpha(t)))

    def d_alpha(self, t: Tensor) -> Tensor:
        return self.alpha(t) * (-0.5 * t * (self.beta_max - self.beta_min) - 0.5 * self.beta_min)

    def d_sigma(self, t: Tensor) -> Tensor:
        a = self.alpha(t)
        return -a * self.d_alpha(t) / self.sigma(t)


@dataclass(frozen=True)
class VPCosine(GaussianPath):
    """Variance-preserving cosine schedule (Nichol & Dhariwal 2021), alpha(1) = 0.

    alpha(t) = cos(pi/2 (t + s)/(1 + s)) / cos(pi/2 s/(1 + s)), sigma = sqrt(1 - alpha^2).
    """

    s: float = 0.008

    def _angle(self, t: Tensor) -> Tensor:
        return 0.5 * math.pi * (t + self.s) / (1.0 + self.s)

    def alpha(self, t: Tensor) -> Tensor:
        a0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s))
        return (torch.cos(self._angle(t)) / a0).clamp(0.0, 1.0)

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sqrt((1.0 - self.alpha(t).square()).clamp_min(0.0))

    def d_alpha(self, t: Tensor) -> Tensor:
        a0 = math.cos(0.5 * math.pi * self.s / (1.0 + self.s))
        return -torch.sin(self._angle(t)) * 0.5 * math.pi / (1.0 + self.s) / a0

    def d_sigma(self, t: Tensor) -> Tensor:
        return -self.alpha(t) * self.d_alpha(t) / self.sigma(t)


@dataclass(frozen=True)
class VE(GaussianPath):
    """Variance-exploding SDE (Song et al. 2021): alpha = 1, sigma = sigma_min (sigma_max/sigma_min)^t."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def d_alpha(self, t: Tensor) -> Tensor:
        return torch.zeros_like(t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return self.sigma(t) * math.log(self.sigma_max / self.sigma_min)


@dataclass(frozen=True)
class EDM(GaussianPath):
    """EDM path (Karras et al. 2022): alpha = 1, sigma(t) = sigma_max * t, so sigma(0) = 0.

    Training times follow EDM's log-normal sigma density (``p_mean``, ``p_std``) mapped to t.
    """

    sigma_max: float = 80.0
    sigma_data: float = 0.5
    p_mean: float = -1.2
    p_std: float = 1.2

    def alpha(self, t: Tensor) -> Tensor:
        return torch.ones_like(t)

    def sigma(self, t: Tensor) -> Tensor:
        return self.sigma_max * t

    def d_alpha(self, t: Tensor) -> Tensor:
        return torch.zeros_like(t)

    def d_sigma(self, t: Tensor) -> Tensor:
        return torch.full_like(t, self.sigma_max)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """t = sigma / sigma_max with log sigma ~ N(p_mean, p_std^2), clipped to (0, 1]."""
        log_sigma = self.p_mean + self.p_std * torch.randn(batch, generator=generator, device=device)
        return (log_sigma.exp() / self.sigma_max).clamp(1e-7, 1.0)
