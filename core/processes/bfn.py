r"""Bayesian Flow Networks for continuous and discrete data (Graves et al. 2023), in genforge time.

A BFN's input distribution has parameters :math:`\theta` that a sender's noisy observations of the data
update by Bayes' rule; its accuracy schedule :math:`\beta(s)` runs over BFN time s in [0, 1] from the prior
(s = 0) to the data (s = 1). genforge's time is **t = 1 - s** (t = 0 data, t = 1 prior); every method takes
genforge's t and converts. ``corrupt`` samples the Bayesian flow distribution :math:`p_F(\theta \mid x; s)`,
the network maps :math:`(\theta, t)` to a prediction of the data, and ``loss`` is the paper's continuous-time
loss :math:`L^\infty` averaged (not summed) over data dimensions, like every genforge loss: multiply by the
number of dimensions D to get nats per sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.processes.base import Process, expand_like, reduce_per_sample

CONTINUOUS_PREDICTIONS = ("eps", "x0")


def bfn_time(t: Tensor) -> Tensor:
    """BFN time s = 1 - t of genforge time t."""
    return 1.0 - t


@dataclass(frozen=True)
class ContinuousBFN(Process):
    r"""BFN for continuous data (Graves et al. 2023, Sec. 4) with a Gaussian sender.

    Input distribution N(mu, 1/rho) per dimension, prior (mu, rho) = (0, 1); sender N(x, 1/alpha);
    Bayesian update rho' = rho + alpha, mu' = (rho mu + alpha y) / rho'. Accuracy schedule
    :math:`\beta(s) = \sigma_1^{-2s} - 1`, so the input precision is :math:`\rho(s) = \sigma_1^{-2s}` and
    the flow distribution is :math:`\mu \sim N(\gamma x, \gamma(1-\gamma) I)`,
    :math:`\gamma(s) = 1 - \sigma_1^{2s}`. The network sees mu (``x_t``) and t and predicts the noise eps
    of mu = gamma x + sqrt(gamma (1 - gamma)) eps (``eps``, the paper's choice) or the data (``x0``).

    Args:
        sigma_1: standard deviation of the input distribution at s = 1 (data units); the paper uses 1e-3
            for 8-bit images scaled to [-1, 1].
        prediction: ``eps`` or ``x0``.
        s_min: below this BFN time the data estimate is 0 (the paper's t_min: gamma ~ 0 there).
    """

    sigma_1: float = 1e-3
    prediction: str = "eps"
    s_min: float = 1e-6

    def __post_init__(self) -> None:
        if not 0.0 < self.sigma_1 < 1.0:
            raise ValueError(f"sigma_1 must be in (0, 1), got {self.sigma_1}")
        if self.prediction not in CONTINUOUS_PREDICTIONS:
            raise ValueError(f"prediction must be one of {CONTINUOUS_PREDICTIONS}, got {self.prediction!r}")

    def accuracy(self, t: Tensor) -> Tensor:
        """beta(s) = sigma_1^(-2s) - 1 at s = 1 - t."""
        return torch.expm1(-2.0 * bfn_time(t) * math.log(self.sigma_1))

    def precision(self, t: Tensor) -> Tensor:
        """Input-distribution precision rho(s) = 1 + beta(s) = sigma_1^(-2s)."""
        return torch.exp(-2.0 * bfn_time(t) * math.log(self.sigma_1))

    def gamma(self, t: Tensor) -> Tensor:
        """gamma(s) = beta / (1 + beta) = 1 - sigma_1^(2s)."""
        return -torch.expm1(2.0 * bfn_time(t) * math.log(self.sigma_1))

    def _gamma_and_residual(self, t: Tensor) -> tuple[Tensor, Tensor]:
        """(gamma, 1 - gamma = sigma_1^(2s)) in float64, the second without cancellation near s = 1."""
        log_residual = 2.0 * bfn_time(t.double()) * math.log(self.sigma_1)
        return -torch.expm1(log_residual), torch.exp(log_residual)

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]``, uniform on [0, 1) (s ~ U(0, 1] as in the paper's Alg. 2)."""
        return torch.rand(batch, generator=generator, device=device)

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Prior input mean mu = 0 (its precision is 1); deterministic."""
        return torch.zeros(shape, device=device, dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal eps shaped like ``x0``."""
        return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """A flow sample mu = gamma x0 + sqrt(gamma (1 - gamma)) eps."""
        gamma, residual = (expand_like(c, x0).to(x0.dtype) for c in self._gamma_and_residual(t))
        return gamma * x0 + torch.sqrt(gamma * residual) * noise

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """eps (``noise``) or x0, per ``prediction``."""
        return noise if self.prediction == "eps" else x0

    def predict_x0(self, pred: Tensor, mu: Tensor, t: Tensor) -> Tensor:
        """Data estimate x_hat from the network output (the paper's output function for continuous data).

        ``eps``: x_hat = mu / gamma - sqrt((1 - gamma) / gamma) eps_hat, and 0 where s < s_min.
        """
        if self.prediction == "x0":
            return pred
        gamma, residual = self._gamma_and_residual(t.clamp_max(1.0 - self.s_min))
        inverse_gamma = expand_like(1.0 / gamma, mu).to(mu.dtype)
        noise_scale = expand_like((residual / gamma).sqrt(), mu).to(mu.dtype)
        x_hat = inverse_gamma * mu - noise_scale * pred
        return torch.where(expand_like(bfn_time(t), mu) < self.s_min, torch.zeros_like(x_hat), x_hat)

    def loss(self, pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        r"""Continuous-time loss :math:`-\ln\sigma_1\,\sigma_1^{-2s}(x - \hat x)^2` (eq. 101), ``[B]``."""
        x_hat = self.predict_x0(pred, self.corrupt(x0, t, noise), t)
        weight = -math.log(self.sigma_1) * expand_like(self.precision(t), x0).to(x0.dtype)
        return reduce_per_sample(weight * (x0 - x_hat).square())

    def update(self, mu: Tensor, rho: Tensor | float, y: Tensor,
               alpha: Tensor | float) -> tuple[Tensor, Tensor]:
        """Bayesian update of (mu, rho) by a sender sample y ~ N(x, 1/alpha): returns (mu', rho')."""
        rho_next = torch.as_tensor(rho + alpha, dtype=mu.dtype, device=mu.device)
        return (rho * mu + alpha * y) / rho_next, rho_next


@dataclass(frozen=True)
class DiscreteBFN(Process):
    r"""BFN for categorical data (Graves et al. 2023, Sec. 6).

    Data are one-hot (or probability) vectors ``x0 [..., K]``; the input parameters theta are categorical
    probabilities ``[..., K]`` with the uniform prior. Sender :math:`y \sim N(\alpha(K e_x - 1), \alpha K I)`;
    Bayesian update :math:`\theta' \propto e^{y}\theta`. Accuracy schedule :math:`\beta(s) = \beta_1 s^2`
    (eq. 182), flow :math:`\theta = \mathrm{softmax}(y)`, :math:`y \sim N(\beta(K e_x - 1), \beta K I)`.
    The network sees theta and t and outputs logits ``[..., K]``; the loss is
    :math:`K \beta_1 s \|e_x - \hat e\|^2` with :math:`\hat e = \mathrm{softmax}(\text{logits})` (eq. 205).

    Args:
        num_classes: K.
        beta_1: final accuracy beta(1); the paper uses 3 for binarised MNIST (K = 2) and 0.75 for text8
            (K = 27).
    """

    num_classes: int
    beta_1: float = 3.0

    def __post_init__(self) -> None:
        if self.num_classes < 2 or self.beta_1 <= 0:
            raise ValueError(f"need num_classes >= 2 and beta_1 > 0, got {self.num_classes}, {self.beta_1}")

    def accuracy(self, t: Tensor) -> Tensor:
        """beta(s) = beta_1 s^2 at s = 1 - t."""
        return self.beta_1 * bfn_time(t).square()

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """Training times ``[B]``, uniform on [0, 1) (Alg. 8)."""
        return torch.rand(batch, generator=generator, device=device)

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
        """Uniform probabilities 1/K, ``shape = (..., K)``; deterministic."""
        if shape[-1] != self.num_classes:
            raise ValueError(f"the last dimension must be num_classes={self.num_classes}, got shape {shape}")
        return torch.full(shape, 1.0 / self.num_classes, device=device, dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Standard normal noise ``[..., K]`` shaped like the one-hot ``x0``."""
        return torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """A flow sample theta = softmax(beta (K x0 - 1) + sqrt(beta K) noise), ``[..., K]``."""
        beta = expand_like(self.accuracy(t), x0).to(x0.dtype)
        y = beta * (self.num_classes * x0 - 1.0) + torch.sqrt(beta * self.num_classes) * noise
        return torch.softmax(y, dim=-1)

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """The one-hot data e_x, which softmax(logits) regresses."""
        return x0

    def loss(self, pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """K beta_1 s ||e_x - softmax(pred)||^2 (eq. 205); sum over classes, mean over variables: ``[B]``."""
        squared = (x0 - torch.softmax(pred, dim=-1)).square().sum(dim=-1)
        weight = self.num_classes * self.beta_1 * expand_like(bfn_time(t), squared).to(x0.dtype)
        return reduce_per_sample(weight * squared)

    def update(self, theta: Tensor, y: Tensor) -> Tensor:
        """Bayesian update theta' = e^y theta / sum_k e^(y_k) theta_k by a sender sample ``y [..., K]``."""
        return torch.softmax(y + torch.log(theta), dim=-1)
