r"""Joint samplers for crystals: periodic coordinates on the torus plus a Euclidean lattice, one network.

Both walk an explicit descending genforge time grid (t = 1 prior -> t = 0 data) and call the network once
per modality pair, so the coordinates and the lattice see each other's current state (the network couples
them). Models close over any conditioning (composition, graph index):

* :func:`periodic_lattice_bfn` (CrysBFN): ``model(m [N,3], c [N,3], mu [B,...], t [B]) -> (x_hat [N,3],
  lattice_out [B,...])``; von Mises update of the coordinates (:class:`VonMisesBFN`) and Gaussian BFN update
  of the lattice (:class:`ContinuousBFN`, its ``predict_x0`` maps ``lattice_out`` to the data estimate).
  n steps cost n + 1 NFE.
* :func:`torus_lattice_pc` (DiffCSP): ``model(x [N,3], l [B,...], t [B]) -> (score_pred [N,3],
  eps_hat [B,...])``; wrapped-normal reverse diffusion on the coordinates with DiffCSP's predictor-corrector
  (Langevin corrector, then the ancestral predictor of the variance-exploding torus SDE) and the DDPM
  ancestral step on the lattice. n steps cost 2 n NFE (n with ``step_lr = 0``).
* :func:`species_lattice_periodic_bfn` (CrysBFN de novo): the CrysBFN sampler plus a discrete BFN over the
  species, ``model(theta [N,K], m, c, mu, t) -> (logits [N,K], x_hat, lattice_out)``; n + 1 NFE.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.gaussian import GaussianPath
from genforge.core.processes.periodic import VonMisesBFN, WrappedNormalTorus, wrap
from genforge.core.processes.von_mises import sample_von_mises
from genforge.core.solvers.ode import grid_steps, path_point
from genforge.core.solvers.sde import ancestral_transition

BFNCrystalModel = Callable[[Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]
DiffusionCrystalModel = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]
CrystalCallback = Callable[[int, float, Tensor, Tensor], None]
"""``callback(i, t_i, coordinate_state, lattice_state)``."""


def _times(t: float, like: Tensor) -> Tensor:
    return torch.full((like.shape[0],), t, dtype=like.dtype, device=like.device)


def periodic_lattice_bfn(model: BFNCrystalModel, coords: VonMisesBFN, lattice: ContinuousBFN, frac_init: Tensor,
                         lattice_init: Tensor, grid: Tensor, *, generator: torch.Generator | None = None,
                         callback: CrystalCallback | None = None,
                         concentration_init: Tensor | None = None, noise_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """CrysBFN generation (their Alg. 2 with the Gaussian BFN lattice of Graves et al., Alg. 3).

    Step i: (x_hat, l_hat) from the network at (m, c, mu, t_i); y ~ vM(x_hat, alpha_i) with the entropy
    schedule's accuracy between t_i and t_{i+1} and c' e^(i m') = c e^(i m) + alpha_i e^(i y);
    y_l ~ N(l_hat, 1/a_i), a_i = rho(t_{i+1}) - rho(t_i), and mu' = (rho mu + a_i y_l) / (rho + a_i).

    Args:
        frac_init: prior coordinate means ``[N, 3]`` (``coords.prior``: uniform, concentration 0).
        lattice_init: prior lattice means ``[B, ...]`` (``lattice.prior``: 0).
        grid: descending times from 1 to 0 (or from t0 < 1 with a flow state at t0 as the initial values).
        concentration_init: coordinate concentrations ``[N, 3]`` at ``grid[0]`` (None: 0, the prior's).
        noise_scale: multiplies the sender noise of coordinates (von Mises offsets) and lattice (1: the Bayesian
            flow sampler; < 1 a lower-temperature variant; 0: every update at the network's estimate).

    Returns:
        (coordinates ``[N, 3]`` wrapped into [0, period), lattice data estimate ``[B, ...]``) at ``grid[-1]``.
    """
    m, mu = frac_init, lattice_init
    c = torch.zeros_like(frac_init) if concentration_init is None else concentration_init
    alphas = coords.sender_accuracies(grid.double()).tolist()
    rho = float(lattice.precision(grid[:1].double()))
    for i, t, t_next in grid_steps(grid):
        times = _times(t, mu)
        x_hat, lattice_out = model(m, c, mu, times)
        l_hat = lattice.predict_x0(lattice_out, mu, times)
        if callback is not None:
            callback(i, t, m, mu)
        m, c, mu, rho = _coords_lattice_step(coords, lattice, (m, c, mu, rho), (x_hat, l_hat), alphas[i], t_next,
                                             noise_scale, generator)
    times = _times(float(grid[-1]), mu)
    x_hat, lattice_out = model(m, c, mu, times)
    return wrap(x_hat, coords.period), lattice.predict_x0(lattice_out, mu, times)


def torus_lattice_pc(model: DiffusionCrystalModel, torus: WrappedNormalTorus, lattice: GaussianPath,
                     frac_init: Tensor, lattice_init: Tensor, grid: Tensor, *, generator: torch.Generator,
                     step_lr: float = 1e-5, x0_clip: float | None = None,
                     callback: CrystalCallback | None = None) -> tuple[Tensor, Tensor]:
    r"""DiffCSP sampling (Jiao et al. 2023, Alg. 2) on any descending grid.

    Corrector (coordinates only): :math:`x \leftarrow x + \epsilon s + \sqrt{2\epsilon} z`,
    :math:`\epsilon = \text{step\_lr}\,(\sigma_t / \sigma_{min})^2`. Predictor: :math:`x \leftarrow x +
    (\sigma_t^2 - \sigma_{t'}^2) s + \sqrt{\sigma_{t'}^2 (\sigma_t^2 - \sigma_{t'}^2) / \sigma_t^2}\, z` with
    :math:`\sigma_{t'} = 0` at the last step (noise-free); lattice: the DDPM ancestral step from the
    network's eps (:func:`~genforge.core.solvers.sde.ancestral_transition`; the last step returns alpha x0_hat).
    The score s is ``torus.score(score_pred, t)``. ``grid[0]`` must have alpha > 0 for the lattice path;
    ``x0_clip`` clips the lattice x0 estimate to [-x0_clip, x0_clip] (DDPM's ``clip_denoised``), which bounds
    the amplification of eps errors by alpha_{t'} / alpha_t in large steps from alpha ~ 0.

    Returns:
        (coordinates ``[N, 3]`` in [0, 1), lattice ``[B, ...]``).
    """
    x, lat = frac_init, lattice_init
    steps = grid_steps(grid)
    for i, t, t_next in steps:
        times = _times(t, lat)
        sigma = float(torus.sigma(torch.tensor(t, dtype=torch.float64)))
        last = i == len(steps) - 1
        sigma_next = 0.0 if last else float(torus.sigma(torch.tensor(t_next, dtype=torch.float64)))
        if callback is not None:
            callback(i, t, x, lat)
        if step_lr > 0:
            score = torus.score(model(x, lat, times)[0], times[:1]).to(x.dtype)
            step = step_lr * (sigma / torus.sigma_min) ** 2
            x = wrap(x + step * score + math.sqrt(2.0 * step) * _normal_like(x, generator))
        score_pred, eps = model(x, lat, times)
        score = torus.score(score_pred, times[:1]).to(x.dtype)
        drop = sigma ** 2 - sigma_next ** 2
        std = math.sqrt(sigma_next ** 2 * drop / sigma ** 2)
        x = wrap(x + drop * score + std * _normal_like(x, generator))
        start, end = path_point(lattice, t), path_point(lattice, t_next)
        x0 = (lat - start.sigma * eps) / start.alpha
        if x0_clip is not None:
            x0 = x0.clamp(-x0_clip, x0_clip)
            eps = (lat - start.alpha * x0) / start.sigma
        mean, lattice_std = ancestral_transition(x0, eps, start, end)
        lat = end.alpha * x0 + end.sigma * eps if last else mean + lattice_std * _normal_like(lat, generator)
    return x, lat


def _coords_lattice_step(coords: VonMisesBFN, lattice: ContinuousBFN, state: tuple[Tensor, Tensor, Tensor, float],
                         estimates: tuple[Tensor, Tensor], alpha: float, t_next: float, noise_scale: float,
                         generator: torch.Generator | None) -> tuple[Tensor, Tensor, Tensor, float]:
    """One sender step of the periodic coordinates (von Mises, accuracy ``alpha``) and the Gaussian BFN lattice
    (up to its precision at ``t_next``) from the network's estimates ``(x_hat, l_hat)``; ``state`` is
    (coordinate means m, concentrations c, lattice means mu, lattice precision rho). Draws the von Mises
    offsets, then the lattice noise."""
    m, c, mu, rho = state
    x_hat, l_hat = estimates
    offsets = sample_von_mises(torch.zeros((), dtype=torch.float64, device=m.device),
                               torch.full(m.shape, alpha, dtype=torch.float64, device=m.device), generator)
    to_data_units = coords.period / (2.0 * math.pi)
    m, c = coords.update(m, c, x_hat + noise_scale * to_data_units * offsets.to(m.dtype), alpha)
    gain = float(lattice.precision(torch.tensor([t_next], dtype=torch.float64))) - rho
    mu, rho_next = lattice.update(mu, rho, l_hat + noise_scale * _normal_like(mu, generator) / math.sqrt(gain), gain)
    return m, c, mu, float(rho_next)


def _normal_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)


GenerativeCrystalModel = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
"""``model(theta [N,K], m [N,3], c [N,3], mu [B,...], t [B]) -> (logits [N,K], x_hat [N,3], lattice_out [B,...])``."""


def species_lattice_periodic_bfn(model: GenerativeCrystalModel, types: DiscreteBFN, coords: VonMisesBFN,
                                 lattice: ContinuousBFN, num_atoms: int, num_graphs: int, lattice_dim: int,
                                 grid: Tensor, *,
                                 generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32,
                                 device: torch.device | str | None = None,
                                 noise_scale: float = 1.0) -> tuple[Tensor, Tensor, Tensor]:
    """CrysBFN de novo generation: species, coordinates and lattice from their priors, one network call per step.

    Step i (t_i -> t_{i+1}): (logits, x_hat, lattice_out) from the network at (theta, m, c, mu, t_i); species:
    k ~ softmax(logits), y ~ N(a (K e_k - 1), a K I), a = beta(t_{i+1}) - beta(t_i), theta' ~ e^y theta
    (Graves et al. Alg. 9); coordinates and lattice as :func:`periodic_lattice_bfn`. The species of the
    result are a sample of the output distribution at ``grid[-1]``.

    Args:
        num_atoms: N, the atoms of all crystals (the caller groups them into crystals, e.g. by counts drawn
            from the training distribution).
        num_graphs: B.
        lattice_dim: D, the width of the lattice representation.
        grid: descending times from 1 to 0.
        noise_scale: multiplies the coordinate and lattice sender noise (as :func:`periodic_lattice_bfn`;
            the species updates keep theirs).

    Returns:
        (species class indices ``[N]`` long, coordinates ``[N, 3]`` in [0, period), lattice estimate ``[B, D]``).
    """
    num_classes = types.num_classes
    theta = types.prior((num_atoms, num_classes), device=device, dtype=dtype)
    m = coords.prior((num_atoms, 3), generator, device=device, dtype=dtype)
    c = torch.zeros_like(m)
    mu = lattice.prior((num_graphs, lattice_dim), device=device, dtype=dtype)
    alphas = coords.sender_accuracies(grid.double()).tolist()
    rho = float(lattice.precision(grid[:1].double()))
    for i, t, t_next in grid_steps(grid):
        times = torch.full((num_graphs,), t, dtype=dtype, device=device)
        logits, x_hat, lattice_out = model(theta, m, c, mu, times)
        l_hat = lattice.predict_x0(lattice_out, mu, times)
        accuracy = float(types.accuracy(torch.tensor(t_next, dtype=torch.float64))
                         - types.accuracy(torch.tensor(t, dtype=torch.float64)))
        k = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
        mean = accuracy * (num_classes * torch.nn.functional.one_hot(k, num_classes).to(dtype) - 1.0)
        theta = types.update(theta, mean + math.sqrt(accuracy * num_classes) * _normal_like(theta, generator))
        m, c, mu, rho = _coords_lattice_step(coords, lattice, (m, c, mu, rho), (x_hat, l_hat), alphas[i], t_next,
                                             noise_scale, generator)
    times = torch.full((num_graphs,), float(grid[-1]), dtype=dtype, device=device)
    logits, x_hat, lattice_out = model(theta, m, c, mu, times)
    species = torch.multinomial(torch.softmax(logits, dim=-1), 1, generator=generator)[:, 0]
    return species, wrap(x_hat, coords.period), lattice.predict_x0(lattice_out, mu, times)
