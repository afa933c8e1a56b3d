r"""Sequential Monte Carlo over the reverse diffusion: asymptotically exact conditional sampling.

Twisted diffusion sampling (Wu et al. 2023, TDS, Alg. 1; also SMCDiff, Trippe et al. 2023, and FPS,
Dou & Song 2024). N particles walk the grid; the target at time t is
:math:`\pi_t(x_t) \propto p_t(x_t)\, e^{\ell_t(x_t)}` with the twist
:math:`\ell_t(x_t) = \mathtt{log\_potential}(x_t, t, \hat x_0(x_t))` (for an inverse problem
y = A x0 + n, n ~ N(0, s^2 I): :math:`\ell_t = -\|y - A \hat x_0\|^2 / (2 s^2)`). Each step proposes from the
DDPM reverse kernel p(x_t | x_s) = N(m, c^2 I) (:func:`~.sde.ancestral_transition`, eta = 1), optionally with
its mean shifted by c^2 grad_{x_s} ell_s (TDS eq. 11), and reweights by

.. math::
    w \leftarrow w\, \frac{e^{\ell_t(x_t)}\, p(x_t \mid x_s)}{e^{\ell_s(x_s)}\, q(x_t \mid x_s)}.

The last step to sigma = 0 is the deterministic Tweedie step x_0 = alpha(0) x0_hat, where the twist becomes
the exact log-likelihood ell_0(x_0) = log_potential(x_0, 0, x_0). Particles are resampled when the
effective sample size falls below ``ess_threshold * N``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser
from genforge.core.solvers.ode import Callback, denoise_at, grid_steps, path_point
from genforge.core.solvers.sde import ancestral_transition

LogPotential = Callable[[Tensor, Tensor, Tensor], Tensor]
"""``log_potential(x_t [N, ...], t [N], x0_hat [N, ...]) -> [N]`` log twisting function (differentiable)."""


def effective_sample_size(log_weights: Tensor) -> Tensor:
    """Kish ESS 1 / sum w_i^2 of the normalised weights (scalar, in [1, N]); ``log_weights`` ``[N]``."""
    return torch.exp(-torch.logsumexp(2.0 * torch.log_softmax(log_weights, dim=0), dim=0))


def multinomial_resample(log_weights: Tensor, generator: torch.Generator) -> Tensor:
    """N i.i.d. ancestor indices ``[N]`` drawn with probabilities softmax(log_weights)."""
    probs = torch.softmax(log_weights.to(torch.float64), dim=0)
    return torch.multinomial(probs, log_weights.shape[0], replacement=True, generator=generator)


def systematic_resample(log_weights: Tensor, generator: torch.Generator) -> Tensor:
    """Systematic resampling (Kitagawa 1996): one uniform u, positions (i + u) / N; indices ``[N]``.

    Each particle i is copied floor(N w_i) or ceil(N w_i) times, with expectation N w_i.
    """
    n = log_weights.shape[0]
    cumulative = torch.cumsum(torch.softmax(log_weights.to(torch.float64), dim=0), dim=0)
    offset = torch.rand((), generator=generator, dtype=torch.float64, device=log_weights.device)
    positions = (torch.arange(n, dtype=torch.float64, device=log_weights.device) + offset) / n
    return torch.searchsorted(cumulative, positions, right=True).clamp_max(n - 1)


RESAMPLERS: dict[str, Callable[[Tensor, torch.Generator], Tensor]] = {
    "systematic": systematic_resample,
    "multinomial": multinomial_resample,
}


@dataclass
class ParticleSet:
    """Weighted particles returned by :func:`smc_weighted`.

    Attributes:
        particles: final states ``[N, ...]`` at grid[-1].
        log_weights: unnormalised log importance weights ``[N]``.
        ess: effective sample size before each step's resampling decision ``[n]``.
    """

    particles: Tensor
    log_weights: Tensor
    ess: Tensor

    def mean(self) -> Tensor:
        """Self-normalised importance estimate of E[x] ``[...]``."""
        w = torch.softmax(self.log_weights, dim=0).to(self.particles.dtype)
        return torch.tensordot(w, self.particles, dims=1)


@dataclass
class _State:
    x: Tensor
    x0: Tensor
    eps: Tensor
    log_potential: Tensor
    grad: Tensor | None

    def select(self, index: Tensor) -> _State:
        grad = None if self.grad is None else self.grad[index]
        return _State(self.x[index], self.x0[index], self.eps[index], self.log_potential[index], grad)


def _evaluate(denoiser: Denoiser, x: Tensor, t: float, log_potential: LogPotential, twist: bool) -> _State:
    """Denoise and score the particles (one NFE); with ``twist`` also grad_x ell_t(x) by autograd."""
    tt = torch.full((x.shape[0],), t, dtype=x.dtype, device=x.device)
    if not twist:
        with torch.no_grad():
            x0, eps = denoise_at(denoiser, x, t)
            return _State(x, x0, eps, log_potential(x, tt, x0), None)
    with torch.enable_grad():
        leaf = x.detach().requires_grad_(True)
        x0, eps = denoise_at(denoiser, leaf, t)
        ell = log_potential(leaf, tt, x0)
        (grad,) = torch.autograd.grad(ell.sum(), leaf)
    return _State(x, x0.detach(), eps.detach(), ell.detach(), grad)


def _gaussian_log_ratio(x: Tensor, mean_p: Tensor, mean_q: Tensor, std: float) -> Tensor:
    """log N(x; mean_p, std^2) - log N(x; mean_q, std^2), summed per particle ``[N]``."""
    diff = (x - mean_q).square() - (x - mean_p).square()
    return diff.reshape(x.shape[0], -1).sum(dim=1) / (2.0 * std ** 2)


def smc_weighted(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, log_potential: LogPotential,
                 generator: torch.Generator, callback: Callback | None = None, resampler: str = "systematic",
                 ess_threshold: float = 0.5, twist_proposal: bool = True) -> ParticleSet:
    """Run the particle system and return the weighted particles (n NFE for n steps, each with a
    backward pass through the denoiser when ``twist_proposal``).

    Args:
        denoiser: the unconditional prior.
        x_init: N particles ``[N, ...]`` from the prior at grid[0].
        grid: descending times ``[n + 1]``.
        log_potential: the twist ell_t, see :data:`LogPotential`.
        generator: drives proposals and resampling.
        callback: ``callback(i, t_i, x_i, x0_hat_i)`` on the particles before step i's resampling.
        resampler: ``"systematic"`` or ``"multinomial"``.
        ess_threshold: resample when ESS < ess_threshold * N (0 never, 1 always).
        twist_proposal: shift the proposal mean by c^2 grad ell_s (TDS); else propose from the prior kernel.
    """
    if resampler not in RESAMPLERS:
        raise ValueError(f"resampler must be one of {sorted(RESAMPLERS)}, got {resampler!r}")
    process = denoiser.process
    n_particles = x_init.shape[0]
    state = _evaluate(denoiser, x_init, float(grid[0]), log_potential, twist_proposal)
    log_weights = state.log_potential.clone()
    ess_trace = []
    steps = grid_steps(grid)
    for i, t, t_next in steps:
        if callback is not None:
            callback(i, t, state.x, state.x0)
        ess = effective_sample_size(log_weights)
        ess_trace.append(ess)
        if ess < ess_threshold * n_particles:
            state = state.select(RESAMPLERS[resampler](log_weights, generator))
            log_weights = torch.zeros_like(log_weights)
        start, end = path_point(process, t), path_point(process, t_next)
        mean, std = ancestral_transition(state.x0, state.eps, start, end)
        if end.sigma == 0.0:
            tt = torch.full((n_particles,), t_next, dtype=mean.dtype, device=mean.device)
            final = log_potential(mean, tt, mean)
            return ParticleSet(mean, log_weights + final - state.log_potential, torch.stack(ess_trace))
        proposal_mean = mean if state.grad is None else mean + std ** 2 * state.grad
        x_next = proposal_mean + std * torch.randn(mean.shape, generator=generator, dtype=mean.dtype,
                                                   device=mean.device)
        transition = _gaussian_log_ratio(x_next, mean, proposal_mean, std)
        next_state = _evaluate(denoiser, x_next, t_next, log_potential, twist_proposal)
        log_weights = log_weights + next_state.log_potential - state.log_potential + transition
        state = next_state
    return ParticleSet(state.x, log_weights, torch.stack(ess_trace))


def smc(denoiser: Denoiser, x_init: Tensor, grid: Tensor, *, log_potential: LogPotential,
        generator: torch.Generator, callback: Callback | None = None, resampler: str = "systematic",
        ess_threshold: float = 0.5, twist_proposal: bool = True) -> Tensor:
    """:func:`smc_weighted` followed by one final resampling: N equally weighted samples ``[N, ...]``."""
    result = smc_weighted(denoiser, x_init, grid, log_potential=log_potential, generator=generator,
                          callback=callback, resampler=resampler, ess_threshold=ess_threshold,
                          twist_proposal=twist_proposal)
    return result.particles[RESAMPLERS[resampler](result.log_weights, generator)]
