r"""Processes on the flat torus: periodic Bayesian flow (CrysBFN) and wrapped-normal diffusion (DiffCSP).

Data are periodic coordinates in units where one turn is ``period`` (1 for fractional coordinates, 2 pi for
angles). Both processes are invariant to shifting the data by whole periods.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.processes.base import Process, expand_like, reduce_per_sample
from genforge.core.processes.bfn import bfn_time
from genforge.core.processes.von_mises import (
    concentration_for_entropy,
    mean_resultant_length,
    sample_von_mises,
    sender_accuracy,
    von_mises_entropy,
)

_TWO_PI = 2.0 * math.pi


def wrap(x: Tensor, period: float = 1.0) -> Tensor:
    """``x`` reduced into [0, period) (values that round to ``period`` map to 0)."""
    wrapped = torch.remainder(x, period)
    return torch.where(wrapped >= period, wrapped - period, wrapped)


def wrapped_difference(a: Tensor, b: Tensor, period: float = 1.0) -> Tensor:
    """The shortest signed difference a - b on the circle, in [-period / 2, period / 2)."""
    return wrap(a - b + 0.5 * period, period) - 0.5 * period


@functools.lru_cache(maxsize=16)
def _uniform_sender_accuracies(beta_1: float, num_steps: int) -> Tensor:
    times = torch.linspace(1.0, 0.0, num_steps + 1, dtype=torch.float64)
    return VonMisesBFN(beta_1=beta_1, num_steps=num_steps).sender_accuracies(times)


@dataclass(frozen=True)
class VonMisesBFN(Process):
    r"""Periodic Bayesian flow with a von Mises sender (CrysBFN, Wu et al. 2025, arXiv 2502.02016).

    Per coordinate the input distribution is vM(m, c) on the angle :math:`\phi = 2\pi x / P`, with the
    uniform prior c = 0. A sender sample :math:`y \sim vM(\phi, \alpha_i)` updates it by vector addition,
    :math:`c' e^{i m'} = c e^{i m} + \alpha_i e^{i y}` (their Bayesian update), so after i steps
    :math:`c_i e^{i m_i} = \sum_{j \le i} \alpha_j e^{i y_j}`. Unlike the Gaussian case the concentration is
    random and not additive, so the flow :math:`p_F(m, c \mid x; s_i)` has no closed form: ``corrupt``
    simulates the sender chain over this process's fixed grid s_i = i / n (n = ``num_steps``) as a masked
    sum of sender offsets, and the network must be conditioned on the sampled c (their "entropy
    conditioning"), which :meth:`flow_parameters` returns alongside m.

    Accuracy schedule: the entropy of vM(c*) decreases linearly in s from log 2 pi to H(beta_1), and
    alpha_i solves E|c*_{i-1} + alpha_i e^{i delta}| = c*_i, delta ~ vM(0, alpha_i) (the rule of the CrysBFN
    reference code; see :func:`sender_accuracy`).

    Loss (their discrete-time loss): with the network at step i - 1 predicting x_hat,
    :math:`n\,\mathrm{KL}(vM(\phi, \alpha_i)\,\|\,vM(\hat\phi, \alpha_i)) = n\,\alpha_i A(\alpha_i)
    (1 - \cos(\phi - \hat\phi))`, averaged over coordinates.

    Genforge time t = 1 - s is snapped to the grid: step index i = round((1 - t) n).

    Args:
        beta_1: concentration c reached at s = 1 (radians^-2); 1e3 resolves about 0.03 rad, i.e. 0.005
            in fractional units (the CrysBFN setting).
        num_steps: n, the sender steps of the simulated flow (1000 in CrysBFN). ``sample_noise`` costs
            n + 1 numbers per coordinate.
        period: data units per turn (1 for fractional coordinates, 2 pi for angles).
    """

    beta_1: float = 1000.0
    num_steps: int = 1000
    period: float = 1.0

    def __post_init__(self) -> None:
        if self.beta_1 <= 0 or self.num_steps < 1 or self.period <= 0:
            raise ValueError(f"need beta_1 > 0, num_steps >= 1, period > 0; got {self.beta_1}, "
                             f"{self.num_steps}, {self.period}")

    def entropy(self, t: Tensor) -> Tensor:
        """Scheduled entropy (nats) of the input distribution, linear in s from log 2 pi to H(beta_1)."""
        s = bfn_time(t.double())
        final = von_mises_entropy(torch.tensor(self.beta_1, dtype=torch.float64))
        return (1.0 - s) * math.log(_TWO_PI) + s * final

    def input_concentration(self, t: Tensor) -> Tensor:
        """Scheduled concentration c*(s) (float64); the flow's sampled c scatters around it."""
        return concentration_for_entropy(self.entropy(t), 10.0 * self.beta_1)

    def sender_accuracies(self, grid: Tensor) -> Tensor:
        """Sender accuracies ``[n]`` for the steps of a descending time grid ``[n + 1]`` (float64)."""
        concentration = self.input_concentration(grid)
        return sender_accuracy(concentration[:-1], concentration[1:])

    def accuracies(self) -> Tensor:
        """alpha_1 .. alpha_n of this process's uniform grid, ``[n]`` (float64, cached)."""
        return _uniform_sender_accuracies(self.beta_1, self.num_steps)

    def step_index(self, t: Tensor) -> Tensor:
        """Grid step i = round((1 - t) n), clamped to [0, n] (long)."""
        return torch.round(bfn_time(t.double()) * self.num_steps).long().clamp(0, self.num_steps)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]`` at the grid: t = 1 - i / n with i ~ U{0, .., n - 1}."""
        steps = torch.randint(0, self.num_steps, (batch,), generator=generator, device=device)
        return 1.0 - steps.float() / self.num_steps

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Prior input means, uniform on [0, period) (their concentration is 0)."""
        return self.period * torch.rand(shape, generator=generator, device=device, dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None, t: Tensor | None = None) -> Tensor:
        """Sender randomness ``[*x0.shape, n + 1]`` in radians (NOT shaped like ``x0``).

        Entry 0 is the prior mean angle, uniform on [-pi, pi); entry j >= 1 is the offset y_j - phi of the
        j-th sender sample, ~ vM(0, alpha_j). With ``t`` (as for :meth:`flow_parameters`) only the offsets
        j <= i(t) that the flow at ``t`` uses are drawn, the others are 0 (half the cost for uniform times).
        """
        prior_angle = _TWO_PI * torch.rand((*x0.shape, 1), generator=generator, dtype=torch.float64,
                                           device=x0.device) - math.pi
        alphas = self.accuracies().to(x0.device).expand(*x0.shape, self.num_steps)
        zero = torch.zeros((), dtype=torch.float64, device=x0.device)
        if t is None:
            offsets = sample_von_mises(zero, alphas, generator)
        else:
            indices = torch.arange(1, self.num_steps + 1, device=x0.device)
            used = (indices <= expand_like(self.step_index(t), x0)[..., None]).expand_as(alphas)
            offsets = torch.zeros_like(alphas).masked_scatter(used, sample_von_mises(zero, alphas[used], generator))
        return torch.cat([prior_angle, offsets], dim=-1).to(x0.dtype)

    def flow_parameters(self, x0: Tensor, t: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
        """A flow sample (m, c): mean m in data units on [0, period) and concentration c (radians^-2).

        ``t`` is ``[B]`` (per graph node for graph batches); m and c are shaped like ``x0``.
        """
        steps = expand_like(self.step_index(t), x0)[..., None]
        indices = torch.arange(1, self.num_steps + 1, device=x0.device)
        alphas = self.accuracies().to(device=x0.device, dtype=x0.dtype)
        weights = torch.where(indices <= steps, alphas, torch.zeros_like(alphas))
        offsets = noise[..., 1:]
        resultant_cos = (weights * torch.cos(offsets)).sum(-1)
        resultant_sin = (weights * torch.sin(offsets)).sum(-1)
        angle = _TWO_PI * wrap(x0, self.period) / self.period + torch.atan2(resultant_sin, resultant_cos)
        angle = torch.where(steps[..., 0] == 0, noise[..., 0], angle)
        return wrap(angle * (self.period / _TWO_PI), self.period), torch.hypot(resultant_cos, resultant_sin)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """The flow sample's mean m (data units); use :meth:`flow_parameters` for its concentration too."""
        return self.flow_parameters(x0, t, noise)[0]

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """The data x0 (the network predicts the coordinate, any representative modulo the period)."""
        return x0

    def loss(self, pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """n alpha_{i+1} A(alpha_{i+1}) (1 - cos(phi - phi_hat)), mean over coordinates, ``[B]``.

        i is the step of ``t`` (clamped to n - 1, so t = 0 weighs like the last step).
        """
        alphas = self.accuracies().to(x0.device)
        alpha_next = alphas[self.step_index(t).clamp_max(self.num_steps - 1)]
        weight = self.num_steps * alpha_next * mean_resultant_length(alpha_next)
        misfit = 1.0 - torch.cos(_TWO_PI * (pred - x0) / self.period)
        return reduce_per_sample(expand_like(weight.to(x0.dtype), x0) * misfit)

    def update(self, m: Tensor, c: Tensor, y: Tensor, alpha: Tensor | float) -> tuple[Tensor, Tensor]:
        """Bayesian update c' e^(i m') = c e^(i m) + alpha e^(i y); m, y in data units, returns (m', c')."""
        scale = _TWO_PI / self.period
        resultant_cos = c * torch.cos(scale * m) + alpha * torch.cos(scale * y)
        resultant_sin = c * torch.sin(scale * m) + alpha * torch.sin(scale * y)
        mean = wrap(torch.atan2(resultant_sin, resultant_cos) / scale, self.period)
        return mean, torch.hypot(resultant_cos, resultant_sin)


def wrapped_normal_log_density(diff: Tensor, sigma: Tensor | float, num_images: int = 10) -> Tensor:
    """log sum_{|k| <= num_images} N(diff + k; 0, sigma^2): the wrapped normal on the unit circle."""
    sigma = torch.as_tensor(sigma, dtype=diff.dtype, device=diff.device)
    shifts = torch.arange(-num_images, num_images + 1, dtype=diff.dtype, device=diff.device)
    images = diff[..., None] + shifts
    log_terms = -0.5 * (images / sigma[..., None]).square() - torch.log(sigma[..., None] * math.sqrt(_TWO_PI))
    return torch.logsumexp(log_terms, dim=-1)


def wrapped_normal_score(diff: Tensor, sigma: Tensor | float, num_images: int = 10) -> Tensor:
    r"""d/dx log of the wrapped normal at x = diff: :math:`-\sum_k w_k (d + k) / \sigma^2`, w = softmax.

    The difference is first wrapped into [-1/2, 1/2), so the images |k| <= num_images are the nearest.
    """
    sigma = torch.as_tensor(sigma, dtype=diff.dtype, device=diff.device)
    shifts = torch.arange(-num_images, num_images + 1, dtype=diff.dtype, device=diff.device)
    images = wrapped_difference(diff, torch.zeros_like(diff))[..., None] + shifts
    weights = torch.softmax(-0.5 * (images / sigma[..., None]).square(), dim=-1)
    return -(weights * images).sum(-1) / sigma.square()


_NORM_TABLE_TIMES = 129
_NORM_QUADRATURE_NODES = 1024


@functools.lru_cache(maxsize=16)
def _log_scaled_score_norm(sigma_min: float, sigma_max: float, num_images: int) -> Tensor:
    """log(sigma^2 E[score^2]) on a uniform t grid ``[129]`` (periodic trapezoid rule over [-1/2, 1/2))."""
    times = torch.linspace(0.0, 1.0, _NORM_TABLE_TIMES, dtype=torch.float64)
    sigma = sigma_min * (sigma_max / sigma_min) ** times
    x = torch.arange(_NORM_QUADRATURE_NODES, dtype=torch.float64) / _NORM_QUADRATURE_NODES - 0.5
    density = wrapped_normal_log_density(x, sigma[:, None], num_images).exp()
    score = wrapped_normal_score(x.expand(_NORM_TABLE_TIMES, -1), sigma[:, None], num_images)
    expected = (density * score.square()).sum(-1) / density.sum(-1)
    return torch.log(expected * sigma.square())


@dataclass(frozen=True)
class WrappedNormalTorus(Process):
    r"""Wrapped-normal diffusion on fractional coordinates (DiffCSP, Jiao et al. 2023, Sec. 3.3).

    :math:`x_t = (x_0 + \sigma(t)\varepsilon) \bmod 1` with :math:`\sigma(t) = \sigma_{min}
    (\sigma_{max}/\sigma_{min})^t` (fractional units; DiffCSP's 1000 geometric levels in continuous time).
    The target is the score of the wrapped normal :math:`\nabla_{x_t}\log N_w(x_t \mid x_0, \sigma^2)`,
    truncated to |k| <= ``num_images``, divided by :math:`\sqrt{\lambda(t)}`,
    :math:`\lambda(t) = E_{d \sim N_w(0, \sigma^2)}[s(d)^2]` per coordinate, so it has unit second moment
    (their loss weight). Sign: this is the score itself; DiffCSP's code regresses its negative. The prior is
    uniform on [0, 1).

    Args:
        sigma_min: noise at t = 0 (fractional units).
        sigma_max: noise at t = 1; 0.5 is close to uniform on the unit torus.
        num_images: periodic images on each side in the truncated sums.
    """

    sigma_min: float = 0.005
    sigma_max: float = 0.5
    num_images: int = 10

    def sigma(self, t: Tensor) -> Tensor:
        """sigma(t) = sigma_min (sigma_max / sigma_min)^t."""
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def score_norm(self, t: Tensor) -> Tensor:
        """lambda(t) = E[score^2] per coordinate (interpolated in log from a 129-point quadrature table)."""
        table = _log_scaled_score_norm(self.sigma_min, self.sigma_max, self.num_images).to(t.device)
        position = t.double().clamp(0.0, 1.0) * (_NORM_TABLE_TIMES - 1)
        lower = position.floor().long().clamp_max(_NORM_TABLE_TIMES - 2)
        fraction = position - lower
        log_scaled = torch.lerp(table[lower], table[lower + 1], fraction)
        return (log_scaled.exp() / self.sigma(t.double()).square()).to(t.dtype)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]``, uniform on [0, 1)."""
        return torch.rand(batch, generator=generator, device=device)

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Uniform on [0, 1)."""
        return torch.rand(shape, generator=generator, device=device, dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise shaped like ``x0``."""
        return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = (x0 + sigma(t) noise) mod 1."""
        return wrap(x0 + expand_like(self.sigma(t), x0).to(x0.dtype) * noise)

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """Normalised wrapped-normal score at x_t - x0 = sigma noise (mod 1)."""
        sigma = expand_like(self.sigma(t), x0).to(x0.dtype)
        norm = expand_like(self.score_norm(t), x0).to(x0.dtype)
        return wrapped_normal_score(sigma * noise, sigma, self.num_images) / norm.sqrt()

    def score(self, pred: Tensor, t: Tensor) -> Tensor:
        """The score grad_x log p_t(x) from a network output ``pred`` that regresses :meth:`target`."""
        return pred * expand_like(self.score_norm(t), pred).to(pred.dtype).sqrt()
