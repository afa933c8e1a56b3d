r"""Training losses and samplers of the trajectory models, on the engine's processes and solvers.

Forecasting (GeoTDM, transformer baseline): the model exposes ``prior(cond) -> x_hat [B, Tf, N, 3]``; the
Gaussian path (``process``, whose prediction kind the model follows) runs on the residual r = x_future - x_hat,
so t = 1 is N(x_hat, I) in positions. The learnable prior is trained end to end through the denoising loss, as in the
paper; ``prior_weight`` optionally adds |x_hat - x_future|^2 (0 = the paper's objective).

Unconditional generation: a :class:`~genforge.core.processes.CoMFreeGaussian` over the T x N points of each
trajectory (noise, targets and loss CoM-free); the solver's fresh noise has a CoM component which cannot
reach the CoM-free part of the state (the network is translation invariant and its output CoM-free), so the
final sample is recentred.

Preconditioning (:class:`Preconditioned`, EDM's c_skip / c_out written for a VP path): the networks return a
displacement D and the denoiser predicts

.. math:: \hat r_0 = \frac{\alpha \sigma_d^2}{\alpha^2\sigma_d^2 + \sigma^2} r_t
          + \frac{\sigma \sigma_d}{\sqrt{\alpha^2\sigma_d^2 + \sigma^2}} D,

the posterior mean of r_0 ~ N(0, sigma_d^2) plus a learnt correction. An untrained network thus forecasts
the prior mean instead of noise. (GeoTDM predicts eps; with an eps- or plain x0-network whose coordinate
heads start near zero, 25- to 1000-step DDPM sampling diverged or returned noise at the CPU training
lengths used here.)

Loss weighting: the x0 MSE can be weighted per sample by :func:`noise_level_weight` (EDM's lambda scaled to
1 at pure noise), without which the lowest noise levels get almost no gradient (jittery samples).

Sampling uses ``solvers.ancestral`` (DDPM ancestral sampling, GeoTDM's sampler) on ``grids.uniform(steps)``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.denoiser import ModelDenoiser
from genforge.core.geometry.rotations import random_rotations
from genforge.core.processes import CoMFreeGaussian, GaussianPath
from genforge.core.processes.base import expand_like
from genforge.core.solvers import SOLVERS
from genforge.domains.trajectories.model import TrajCondition

TrajBatch = tuple[Tensor, Tensor]
"""``(trajectories [B, T, N, 3], node_features [B, N, F])``."""


class Preconditioned(nn.Module):
    """x0-predicting denoiser from a displacement network (module docstring).

    Args:
        net: ``net(x_t, t, cond) -> D`` shaped like x_t (GeoTDM or the transformer baseline).
        process: the Gaussian path whose alpha(t), sigma(t) set the skip weights.
        sigma_data: assumed standard deviation of the clean residual (data units).
    """

    def __init__(self, net: nn.Module, process: GaussianPath, sigma_data: float):
        super().__init__()
        self.net = net
        self.process = process
        self.sigma_data = sigma_data

    def prior(self, cond: TrajCondition) -> Tensor:
        return self.net.prior(cond)

    def with_prior(self, cond: TrajCondition) -> TrajCondition:
        return self.net.with_prior(cond)

    def forward(self, x_t: Tensor, t: Tensor, cond: TrajCondition, *,
                future: Tensor | None = None) -> Tensor | tuple[Tensor, Tensor, Tensor]:
        """x0 estimate of the residual, ``[B, Tf, N, 3]``; with ``future`` a training pass, see :meth:`training_pass`.

        Training goes through ``forward`` so that under DDP the prior runs inside the wrapped call (every
        parameter then takes part in the forward that DDP tracks).
        """
        if future is not None:
            return self.training_pass(x_t, t, cond, future)
        alpha, sigma = (expand_like(f(t).to(x_t.dtype), x_t) for f in (self.process.alpha, self.process.sigma))
        variance = (alpha * self.sigma_data).square() + sigma.square()
        c_skip = alpha * self.sigma_data**2 / variance
        c_out = sigma * self.sigma_data / variance.sqrt()
        return c_skip * x_t + c_out * self.net(x_t, t, cond)

    def training_pass(self, noise: Tensor, t: Tensor, cond: TrajCondition,
                      future: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``(r0_hat, r0, x_hat)``: the prior mean x_hat ``[B, Tf, N, 3]`` of ``cond``, the residual target
        r0 = future - x_hat, and the estimate r0_hat from r0 corrupted with ``noise`` at ``t [B]``.

        The prior is trained through both r0 and the denoiser's input (end to end, as in the paper).
        """
        x_ref = self.prior(cond)
        r0 = future - x_ref
        r_t = self.process.corrupt(r0, t, noise)
        r0_hat = self(r_t, t, TrajCondition(cond.node_features, cond.x_cond, x_ref))
        return r0_hat, r0, x_ref  # type: ignore[return-value]


def random_rotate(traj: Tensor, generator: torch.Generator) -> Tensor:
    """Each trajectory ``[B, T, N, 3]`` rotated by its own uniform random rotation (augmentation)."""
    rotation = random_rotations(traj.shape[0], generator, dtype=traj.dtype, device=traj.device)
    return torch.einsum("bij,btnj->btni", rotation, traj)


def noise_level_weight(process: GaussianPath, t: Tensor, sigma_data: float) -> Tensor:
    """EDM's loss weight for :class:`Preconditioned`, scaled to 1 at pure noise: ``[B] -> [B]``,

    w(t) = 1 + alpha^2 sigma_d^2 / sigma^2 = sigma_d^2 / c_out^2.

    The x0 error is c_out times the network's own error, so an unweighted x0 loss gives the low noise levels
    (c_out ~ sigma -> 0) almost no gradient; with w every level counts alike in the network's output.
    """
    alpha, sigma = process.alpha(t), process.sigma(t)
    return 1.0 + (alpha * sigma_data / sigma).square()


def forecast_loss(process: GaussianPath, cond_frames: int, *, prior_weight: float = 0.0, augment: bool = False,
                  sigma_data: float | None = None) -> Callable[[nn.Module, TrajBatch, torch.Generator],
                                                                tuple[Tensor, dict]]:
    """``loss_fn(model, (traj, nodes), generator)`` for the core Trainer: the process's MSE on the residual.

    ``model`` is a :class:`Preconditioned` network (or its DDP wrapper); one call (its training pass) computes
    the prior, the target and the estimate. With ``sigma_data`` each sample's MSE is weighted by
    :func:`noise_level_weight` (None: unweighted x0 MSE).
    """
    def loss_fn(model: nn.Module, batch: TrajBatch, generator: torch.Generator) -> tuple[Tensor, dict]:
        traj, nodes = batch
        if augment:
            traj = random_rotate(traj, generator)
        x_cond, x_future = traj[:, :cond_frames], traj[:, cond_frames:]
        t = process.sample_time(x_future.shape[0], generator, device=x_future.device)
        noise = process.sample_noise(x_future, generator)
        r0_hat, r0, x_ref = model(noise, t, TrajCondition(nodes, x_cond), future=x_future)
        per_sample = process.loss(r0_hat, r0, noise, t)
        if sigma_data is not None:
            per_sample = per_sample * noise_level_weight(process, t, sigma_data).to(per_sample.dtype)
        diffusion = per_sample.mean()
        prior_error = (x_ref - x_future).square().mean()
        loss = diffusion + prior_weight * prior_error if prior_weight else diffusion
        return loss, {"diffusion": diffusion.detach(), "prior_mse": prior_error.detach()}

    return loss_fn


def generation_loss(process: CoMFreeGaussian, *, augment: bool = False,
                    sigma_data: float | None = None) -> Callable[[nn.Module, TrajBatch, torch.Generator], Tensor]:
    """CoM-free MSE over whole trajectories (unconditional GeoTDM; the transformer with ``augment``); with
    ``sigma_data`` weighted per sample by :func:`noise_level_weight`."""
    def loss_fn(model: nn.Module, batch: TrajBatch, generator: torch.Generator) -> Tensor:
        traj, nodes = batch
        if augment:
            traj = random_rotate(traj, generator)
        B, T, N, _ = traj.shape
        graph = torch.arange(B, device=traj.device).repeat_interleave(T * N)
        x0 = (traj - traj.mean(dim=(1, 2), keepdim=True)).reshape(-1, 3)
        t = process.sample_time(B, generator, device=traj.device)
        noise = process.sample_noise(x0, generator, batch=graph, num_graphs=B)
        x_t = process.corrupt(x0, t[graph], noise).reshape(B, T, N, 3)
        pred = model(x_t, t, TrajCondition(nodes)).reshape(-1, 3)
        per_sample = process.loss(pred, x0, noise, t[graph], batch=graph, num_graphs=B)
        if sigma_data is not None:
            per_sample = per_sample * noise_level_weight(process.path, t, sigma_data).to(per_sample.dtype)
        return per_sample.mean()

    return loss_fn


def regression_loss(cond_frames: int) -> Callable[[nn.Module, TrajBatch, torch.Generator], Tensor]:
    """MSE of a one-shot forecaster ``model(cond) -> future``."""
    def loss_fn(model: nn.Module, batch: TrajBatch, generator: torch.Generator) -> Tensor:
        traj, nodes = batch
        return (model(TrajCondition(nodes, traj[:, :cond_frames])) - traj[:, cond_frames:]).square().mean()

    return loss_fn


@torch.no_grad()
def sample_forecasts(model: nn.Module, process: GaussianPath, cond: TrajCondition, num_samples: int, *,
                     steps: int = 100, solver: str = "ancestral", seed: int = 0, chunk: int = 256) -> Tensor:
    """K forecasts per system: ``[B, K, Tf, N, 3]`` (absolute positions).

    The prior mean is computed once per system; systems are processed ``chunk`` samples at a time.
    """
    device = next(model.parameters()).device
    generator = torch.Generator(device).manual_seed(seed)
    cond = model.with_prior(cond.to(device))
    x_ref = model.prior(cond)
    B, Tf, N, _ = x_ref.shape
    repeated = cond.repeat(num_samples)
    grid = grids.uniform(steps)
    out = []
    for start in range(0, B * num_samples, chunk):
        sl = slice(start, start + chunk)
        part = TrajCondition(repeated.node_features[sl], repeated.x_cond[sl],  # type: ignore[index]
                             None if repeated.x_ref is None else repeated.x_ref[sl])
        denoiser = ModelDenoiser(model, process, cond=part)
        x_init = process.prior((part.node_features.shape[0], Tf, N, 3), generator, dtype=x_ref.dtype,
                               device=device)
        out.append(SOLVERS[solver](denoiser, x_init, grid, generator=generator))
    residual = torch.cat(out).reshape(B, num_samples, Tf, N, 3)
    return (residual + x_ref[:, None]).cpu()


@torch.no_grad()
def sample_trajectories(model: nn.Module, process: CoMFreeGaussian, node_features: Tensor, frames: int, *,
                        steps: int = 100, solver: str = "ancestral", seed: int = 0) -> Tensor:
    """Unconditional trajectories ``[B, T, N, 3]`` (CoM at the origin) for particles ``node_features [B, N, F]``."""
    generator = torch.Generator().manual_seed(seed)
    B, N, _ = node_features.shape
    graph = torch.arange(B).repeat_interleave(frames * N)
    x_init = process.prior((B * frames * N, 3), generator, batch=graph, num_graphs=B).reshape(B, frames, N, 3)
    denoiser = ModelDenoiser(model, process.path, cond=TrajCondition(node_features))
    x = SOLVERS[solver](denoiser, x_init, grids.uniform(steps), generator=generator)
    return x - x.mean(dim=(1, 2), keepdim=True)
