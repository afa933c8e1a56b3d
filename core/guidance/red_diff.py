r"""RED-diff (Mardani et al. 2023, "A Variational Perspective on Solving Inverse Problems with Diffusion
Models", Alg. 1): an optimiser, not a sampler.

The variational mean :math:`\mu` is fitted by Adam, one step per grid time walking from noise to data, on

.. math::
    \ell_t(\mu) = \frac{\lVert y - A\mu \rVert^2}{2 s^2}
                + \lambda_t \big\langle \mathrm{sg}(\hat\varepsilon(x_t, t) - \varepsilon), \mu \big\rangle,
    \qquad x_t = \alpha_t \mu + \sigma_t \varepsilon,\ \varepsilon \sim N(0, I),

with the regulariser's gradient taken by score distillation and the weighting
:math:`\lambda_t = \lambda\,\sigma_t/\alpha_t` (``snr_inv``, the inverse square-root SNR their
SNR-based weighting uses; name as in the authors' code) or :math:`\lambda_t = \lambda` (``constant``).
Sums run over all entries of a sample (|.|^2 for complex measurements, e.g. k-space); samples of a batch
are independent problems (Adam is elementwise).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.guidance.dps import ForwardFn, forward_operator
from genforge.core.processes.base import expand_like

WEIGHTINGS: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "snr_inv": lambda alpha, sigma: sigma / alpha,
    "constant": lambda alpha, sigma: torch.ones_like(alpha),
}
"""lambda_t / lambda as a function of (alpha_t, sigma_t)."""


def red_diff(denoiser: Denoiser, operator: ForwardFn | Any, y: Tensor, x_init: Tensor, grid: Tensor, *,
             lr: float, lambda_: float, obs_sigma: float, weighting: str = "snr_inv",
             betas: tuple[float, float] = (0.9, 0.99), generator: torch.Generator | None = None) -> Tensor:
    """Estimate x from ``y = A x + noise`` by RED-diff; returns the final mean ``[B, ...]`` (detached).

    Args:
        denoiser: the prior denoiser (its eps estimate is used, without gradient).
        operator: A as a callable or an object with an ``A`` method (deepinv physics).
        y: measurements ``[B, ...]``.
        x_init: initial mean mu ``[B, ...]`` (e.g. A^+ y or noise).
        grid: descending times; one Adam step per time t > 0 (times need alpha(t) > 0 under ``snr_inv``).
        lr: Adam learning rate.
        lambda_: regularisation weight lambda.
        obs_sigma: measurement noise standard deviation s (units of y).
        weighting: ``snr_inv`` (lambda sigma_t / alpha_t) or ``constant``.
        betas: Adam betas ((0.9, 0.99) as in the authors' code).
        generator: source of the noise eps.
    """
    if weighting not in WEIGHTINGS:
        raise ValueError(f"weighting must be one of {sorted(WEIGHTINGS)}, got {weighting!r}")
    forward, process = forward_operator(operator), denoiser.process
    mu = x_init.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([mu], lr=lr, betas=betas)
    for time in grid[grid > 0].tolist():
        t = torch.full((mu.shape[0],), time, dtype=mu.dtype, device=mu.device)
        noise = process.sample_noise(mu, generator)
        with torch.no_grad():
            eps_hat = denoiser.x0_eps(process.corrupt(mu, t, noise), t)[1]
        weight = expand_like(lambda_ * WEIGHTINGS[weighting](process.alpha(t), process.sigma(t)), mu)
        with torch.enable_grad():
            data_fit = (y - forward(mu)).abs().square().sum() / (2.0 * obs_sigma**2)
            loss = data_fit + (weight * (eps_hat - noise) * mu).sum()
            optimiser.zero_grad()
            loss.backward()
        optimiser.step()
    return mu.detach()
