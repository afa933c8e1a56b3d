r"""Stochastic samplers of the reverse-time diffusion over an explicit, descending time grid.

Signature ``solve(denoiser, x_init, grid, *, generator, callback=None, ...)`` as in :mod:`.ode`; the
generator is required (no global RNG). For the path x_t = alpha x0 + sigma eps the forward SDE
dx = f x dt + g dW has (Song et al. 2021, eq. 5; Kingma et al. 2021, eq. 24)

.. math::
    f(t) = \frac{\dot\alpha}{\alpha}, \qquad g^2(t) = 2\sigma\dot\sigma - 2\frac{\dot\alpha}{\alpha}\sigma^2
    = \sigma^2 \frac{d}{dt}\log\frac{\sigma^2}{\alpha^2} \ge 0,

and the reverse SDE is dx = [f x - g^2 \nabla\log p_t(x)] dt + g d\bar W (Song et al. 2021, eq. 6). Every
sampler ends with a noise-free step: where sigma(grid[-1]) = 0 it returns the posterior mean
alpha(0) E[x0 | x_{t_{n-1}}] (Tweedie denoising), never a sample with fresh noise added.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.solvers.ode import Callback, PathPoint, denoise_at, grid_steps, observe_step, path_point


def _require_generator(generator: torch.Generator | None, solver: str) -> torch.Generator:
    if generator is None:
        raise ValueError(f"{solver} is stochastic: pass a torch.Generator (no global RNG)")
    return generator


def _normal_like(x: Tensor, generator: torch.Generator) -> Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


def _final_step(x0: Tensor, eps: Tensor, end: PathPoint) -> Tensor:
    """Noise-free last step alpha_end x0_hat + sigma_end eps_hat (Tweedie's mean where sigma_end = 0)."""
    return end.alpha * x0 + end.sigma * eps


def ancestral_transition(x0: Tensor, eps: Tensor, start: PathPoint, end: PathPoint,
                         eta: float = 1.0) -> tuple[Tensor, float]:
    r"""Mean ``[B, ...]`` and standard deviation of the DDIM / DDPM reverse kernel from ``start`` to ``end``.

    Generalised DDIM (Song et al. 2021a, eq. 12 and 16) for any Gaussian path: with rho = sigma / alpha,
    c^2 = eta^2 sigma_end^2 (1 - rho_end^2 / rho_start^2) and mean alpha_end x0_hat + sqrt(sigma_end^2 - c^2)
    eps_hat. eta = 1 is the DDPM ancestral step (the posterior q(x_end | x_start, x0_hat)); eta = 0 is DDIM.
    At a start with alpha = 0, rho_start = inf and c = eta sigma_end; at sigma_end = 0, c = 0.
    """
    shrink = (end.ratio / start.ratio) ** 2 if math.isfinite(start.ratio) else 0.0
    std = eta * end.sigma * math.sqrt(max(1.0 - shrink, 0.0))
    mean = end.alpha * x0 + math.sqrt(max(end.sigma ** 2 - std ** 2, 0.0)) * eps
    return mean, std


def ancestral(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, generator: torch.Generator | None = None,
              callback: Callback | None = None, eta: float = 1.0) -> Tensor:
    """DDPM ancestral sampling (eta = 1) or stochastic DDIM (0 < eta < 1); n NFE for n steps.

    Each step but the last (noise-free) draws x_next ~ N(mean, std^2) from :func:`ancestral_transition`.
    """
    rng = _require_generator(generator, "ancestral")
    process = denoiser.process
    steps = grid_steps(grid)
    x = x_init
    for i, t, t_next in steps:
        x0, eps = observe_step(denoiser, x, i, t, callback)
        end = path_point(process, t_next)
        if i == len(steps) - 1:
            return _final_step(x0, eps, end)
        mean, std = ancestral_transition(x0, eps, path_point(process, t), end, eta)
        x = mean + std * _normal_like(x, rng)
    return x


def _euler_maruyama_step(denoiser: Denoiser, x: Tensor, x0: Tensor, eps: Tensor, t: float, t_next: float,
                         generator: torch.Generator) -> Tensor:
    """x + [f x - g^2 score] dt + g sqrt(|dt|) z with dt = t_next - t < 0 and score = -eps_hat / sigma."""
    tt = torch.tensor(t, dtype=torch.float64)
    process = denoiser.process
    alpha, sigma = float(process.alpha(tt)), float(process.sigma(tt))
    d_alpha, d_sigma = float(process.d_alpha(tt)), float(process.d_sigma(tt))
    dt = t_next - t
    f = d_alpha / alpha if alpha > 0.0 else -math.inf
    if abs(f * dt) >= 1.0:
        raise ValueError(f"Euler-Maruyama step from t = {t} is unstable: |f dt| = {abs(f * dt):.3g} >= 1 "
                         "with f = alpha'/alpha (alpha -> 0 at the prior end); start the grid at a smaller "
                         "t or use the ancestral sampler")
    g2 = 2.0 * sigma * d_sigma - 2.0 * f * sigma ** 2
    drift = f * x + (g2 / sigma) * eps
    return x + drift * dt + math.sqrt(g2 * -dt) * _normal_like(x, generator)


def euler_maruyama(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *,
                   generator: torch.Generator | None = None, callback: Callback | None = None) -> Tensor:
    """Euler-Maruyama on the reverse SDE (Song et al. 2021, eq. 6); n NFE for n steps.

    Raises ValueError where a step is unstable, |f dt| >= 1 (f = alpha'/alpha blows up where alpha -> 0,
    e.g. LinearInterpolant or VPCosine at t = 1). The last step is noise-free.
    """
    rng = _require_generator(generator, "euler_maruyama")
    process = denoiser.process
    steps = grid_steps(grid)
    x = x_init
    for i, t, t_next in steps:
        x0, eps = observe_step(denoiser, x, i, t, callback)
        if i == len(steps) - 1:
            return _final_step(x0, eps, path_point(process, t_next))
        x = _euler_maruyama_step(denoiser, x, x0, eps, t, t_next, rng)
    return x


def _langevin_step(denoiser: Denoiser, x: Tensor, t: float, snr: float, generator: torch.Generator) -> Tensor:
    r"""One Langevin corrector step (Song et al. 2021, Alg. 4 with alpha_i = 1).

    x + e score + sqrt(2 e) z with e = 2 (snr ||z|| / ||score||)^2, norms per sample averaged over the
    batch as in the reference implementation.
    """
    _, eps = denoise_at(denoiser, x, t)
    score = -eps / float(denoiser.process.sigma(torch.tensor(t, dtype=torch.float64)))
    noise = _normal_like(x, generator)
    score_norm = score.reshape(x.shape[0], -1).norm(dim=1).mean()
    noise_norm = noise.reshape(x.shape[0], -1).norm(dim=1).mean()
    step = 2.0 * (snr * noise_norm / score_norm).square()
    return x + step * score + (2.0 * step).sqrt() * noise


PREDICTORS = ("ancestral", "euler_maruyama")


def predictor_corrector(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *,
                        generator: torch.Generator | None = None, callback: Callback | None = None,
                        predictor: str = "ancestral", snr: float = 0.16, corrector_steps: int = 1,
                        project: Callable[[int, float, Tensor], Tensor] | None = None) -> Tensor:
    """Predictor-corrector sampling (Song et al. 2021, Alg. 1-2 / App. G).

    At each grid time t_i (i < n) ``corrector_steps`` Langevin steps at t_i, then one predictor step to
    t_{i+1}: ``"ancestral"`` (reverse diffusion, eta = 1) or ``"euler_maruyama"``. The last predictor step
    is noise-free. NFE = n (1 + corrector_steps). ``project(i, t_{i+1}, x) -> x``, if given, maps the state
    after each predictor step but the last (e.g. DiffusionMBIR's data-consistency step on the sample).
    """
    if predictor not in PREDICTORS:
        raise ValueError(f"predictor must be one of {PREDICTORS}, got {predictor!r}")
    rng = _require_generator(generator, "predictor_corrector")
    process = denoiser.process
    steps = grid_steps(grid)
    x = x_init
    for i, t, t_next in steps:
        for _ in range(corrector_steps):
            x = _langevin_step(denoiser, x, t, snr, rng)
        x0, eps = observe_step(denoiser, x, i, t, callback)
        end = path_point(process, t_next)
        if i == len(steps) - 1:
            return _final_step(x0, eps, end)
        if predictor == "euler_maruyama":
            x = _euler_maruyama_step(denoiser, x, x0, eps, t, t_next, rng)
        else:
            mean, std = ancestral_transition(x0, eps, path_point(process, t), end)
            x = mean + std * _normal_like(x, rng)
        if project is not None:
            x = project(i, t_next, x)
    return x
