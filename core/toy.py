r"""Gaussian mixtures with their exact (Bayes-optimal) denoiser, for solver tests, demos and benchmarks.

For data :math:`x_0 \sim \sum_k w_k \mathcal N(\mu_k, \mathrm{diag}(s_k^2))` and any Gaussian path
:math:`x_t = \alpha x_0 + \sigma \varepsilon`, component k gives
:math:`x_t \mid k \sim \mathcal N(\alpha \mu_k, \alpha^2 s_k^2 + \sigma^2)`, so with responsibilities
:math:`r_k(x_t) \propto w_k\,\mathcal N(x_t; \alpha\mu_k, v_k)`, :math:`v_k = \alpha^2 s_k^2 + \sigma^2`:

.. math::
    E[x_0 \mid x_t] = \sum_k r_k \Big(\mu_k + \frac{\alpha s_k^2}{v_k}(x_t - \alpha\mu_k)\Big), \qquad
    E[\varepsilon \mid x_t] = \sum_k r_k \frac{\sigma}{v_k}(x_t - \alpha\mu_k).

The second form is finite at sigma = 0 (where it is 0) and at alpha = 0 (where it is x_t / sigma), unlike
:math:`(x_t - \alpha \hat x_0)/\sigma`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.processes.gaussian import GaussianPath


@dataclass(frozen=True, eq=False)
class GaussianMixture:
    """A mixture of axis-aligned Gaussians in D dimensions.

    Args:
        weights: mixture weights ``[K]`` (normalised internally).
        means: component means ``[K, D]``.
        stds: component standard deviations, ``[K]`` (isotropic) or ``[K, D]`` (diagonal), all > 0.
    """

    weights: Tensor
    means: Tensor
    stds: Tensor

    def __post_init__(self) -> None:
        k, d = self.means.shape
        stds = self.stds[:, None].expand(k, d) if self.stds.dim() == 1 else self.stds
        if self.weights.shape != (k,) or stds.shape != (k, d):
            raise ValueError(f"expected weights [{k}] and stds [{k}] or [{k}, {d}] for means [{k}, {d}], "
                             f"got {tuple(self.weights.shape)} and {tuple(self.stds.shape)}")
        if bool((stds <= 0).any()) or bool((self.weights < 0).any()):
            raise ValueError("stds must be > 0 and weights >= 0")
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", self.weights / self.weights.sum())

    @property
    def dim(self) -> int:
        """Dimension D of a sample."""
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator) -> Tensor:
        """``n`` independent draws ``[n, D]`` (dtype of ``means``)."""
        component = torch.multinomial(self.weights, n, replacement=True, generator=generator)
        noise = torch.randn(n, self.dim, generator=generator, dtype=self.means.dtype)
        return self.means[component] + self.stds[component] * noise

    def log_prob(self, x: Tensor) -> Tensor:
        """Log density ``[N]`` at points ``x`` ``[N, D]``."""
        return torch.logsumexp(self.component_log_probs(x, 1.0, 0.0), dim=1)

    def component_log_probs(self, x: Tensor, alpha: Tensor | float, sigma: Tensor | float) -> Tensor:
        """log w_k + log N(x; alpha mu_k, alpha^2 s_k^2 + sigma^2) ``[N, K]`` for x ``[N, D]``.

        alpha, sigma: floats or ``[N, 1, 1]``; computed in x's dtype.
        """
        means, stds, weights = (p.to(x.dtype) for p in (self.means, self.stds, self.weights))
        var = alpha ** 2 * stds ** 2 + sigma ** 2
        sq = (x[:, None, :] - alpha * means).square() / var
        return weights.log() - 0.5 * (sq + var.log() + math.log(2 * math.pi)).sum(dim=-1)


@dataclass
class ExactMixtureDenoiser(Denoiser):
    """Closed-form E[x0 | x_t] and E[eps | x_t] of a :class:`GaussianMixture` under any Gaussian path.

    Exact and finite on all of [0, 1], including sigma = 0 (x0_hat = x_t, eps_hat = 0) and alpha = 0
    (x0_hat = the mixture mean, eps_hat = x_t / sigma). Samples ``x_t`` ``[B, ...]`` are flattened to
    ``[B, D]``; the maths runs in float64 and returns the dtype of ``x_t``.
    """

    mixture: GaussianMixture
    process: GaussianPath

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        mix = self.mixture
        x = x_t.reshape(x_t.shape[0], -1).to(torch.float64)
        t64 = t.to(torch.float64)
        alpha = self.process.alpha(t64)[:, None, None]
        sigma = self.process.sigma(t64)[:, None, None]
        resp = torch.softmax(mix.component_log_probs(x, alpha, sigma), dim=1)[:, :, None]
        means, var_data = mix.means.to(torch.float64), mix.stds.to(torch.float64).square()
        residual = (x[:, None, :] - alpha * means) / (alpha.square() * var_data + sigma.square())
        x0 = (resp * (means + alpha * var_data * residual)).sum(dim=1)
        eps = (resp * sigma * residual).sum(dim=1)
        return x0.reshape(x_t.shape).to(x_t.dtype), eps.reshape(x_t.shape).to(x_t.dtype)


def gaussian_pf_ode_map(process: GaussianPath, mean: Tensor, std: Tensor, x: Tensor, t_from: float,
                        t_to: float) -> Tensor:
    r"""Exact probability-flow ODE transport from ``t_from`` to ``t_to`` for data N(mean, diag(std^2)).

    The PF-ODE velocity is affine in x for Gaussian data, so its flow is the increasing affine map
    between the marginals N(alpha mu, alpha^2 s^2 + sigma^2) (per coordinate):
    :math:`x_{to} = \alpha_{to}\mu + \sqrt{v_{to}/v_{from}}\,(x - \alpha_{from}\mu)`.

    Shapes: mean, std ``[D]``; x ``[B, D]``; returns ``[B, D]`` in x's dtype.
    """
    ends = torch.tensor([t_from, t_to], dtype=torch.float64)
    alpha, sigma = process.alpha(ends), process.sigma(ends)
    var = alpha[:, None].square() * std.to(torch.float64).square() + sigma[:, None].square()
    mu = mean.to(torch.float64)
    out = alpha[1] * mu + (var[1] / var[0]).sqrt() * (x.to(torch.float64) - alpha[0] * mu)
    return out.to(x.dtype)


def eight_gaussians_mixture(radius: float = 2.0, std: float = 0.15) -> GaussianMixture:
    """Eight equal-weight isotropic Gaussians on a circle (the 2-D "eight Gaussians" toy), float64."""
    angle = torch.arange(8, dtype=torch.float64) * math.pi / 4
    means = radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    return _equal_weights(means, std)


def checkerboard_mixture(std: float = 0.3) -> GaussianMixture:
    """Eight equal-weight Gaussians at the dark-square centres of a 4x4 board on [-2, 2]^2, float64."""
    cell = torch.arange(8)
    row = cell // 2
    col = 2 * (cell % 2) + row % 2
    means = torch.stack([col, row], dim=1).to(torch.float64) - 1.5
    return _equal_weights(means, std)


def _equal_weights(means: Tensor, std: float) -> GaussianMixture:
    k = means.shape[0]
    stds = torch.full((k,), std, dtype=torch.float64)
    return GaussianMixture(torch.ones(k, dtype=torch.float64), means, stds)
