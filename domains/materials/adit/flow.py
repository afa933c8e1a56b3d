r"""ADiT stage 2: a DiT over the VAE's per-atom latents, trained by flow matching (Joshi et al. 2025, sec. 3.3).

Path: the core :class:`LinearInterpolant`, z_t = (1 - t) z_0 + t eps (t = 0 data, t = 1 noise), the network
predicting the velocity eps - z_0 (masked MSE over real atoms). Latents are standardised per channel
with the training set's statistics. Conditioning:

* dataset label through adaLN (core :class:`DiT`), replaced by the null label with probability
  ``label_drop`` in training, for classifier-free guidance (core :func:`cfg`) at sampling;
* self-conditioning (Chen et al. 2023, "Analog Bits"): the network also reads an earlier estimate of z_0,
  concatenated to z_t; in training, with probability ``self_cond_prob`` it is the detached estimate of a
  first pass, else zeros; in sampling, the previous step's estimate (:class:`SelfConditionedDenoiser`).

Number of atoms: drawn from the training histogram of the requested label.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.denoiser import Denoiser
from genforge.core.guidance import cfg as classifier_free_guidance
from genforge.core.nets.dit import DiT, DiTConfig, TokenConditioning, drop_labels
from genforge.core.parametrization import to_x0_eps
from genforge.core.processes.interpolants import LinearInterpolant
from genforge.core.solvers.ode import euler
from genforge.domains.materials.adit.representation import AllAtoms
from genforge.domains.materials.adit.vae import AllAtomVAE

PROCESS = LinearInterpolant()


@dataclass(frozen=True)
class FlowConfig:
    """Latent DiT size and training options: ``hidden`` / ``depth`` / ``heads`` / ``mlp_ratio`` of the DiT,
    ``label_drop`` (CFG training), ``self_cond_prob``, and ``time_power``: training times t = u ** time_power
    with u ~ U(0, 1) (1 = uniform; 2 puts 22% of the samples below t = 0.05, where the fine geometry the
    decoder needs is resolved, instead of 5%)."""

    hidden: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    label_drop: float = 0.1
    self_cond_prob: float = 0.5
    time_power: float = 1.0


@dataclass(frozen=True)
class LatentCond:
    """Conditioning of a latent DiT call: ``labels [B]`` (``num_labels`` = null), ``mask [B, L]``, and the
    self-conditioning estimate ``self_cond [B, L, D]`` (None = zeros)."""

    labels: Tensor
    mask: Tensor
    self_cond: Tensor | None = None


class LatentFlow(nn.Module):
    """``model(z_t [B, L, D], t [B], LatentCond) -> velocity [B, L, D]`` (zero on padding), plus the latent
    statistics and per-label atom-count histograms as buffers."""

    def __init__(self, cfg: FlowConfig, latent_dim: int, num_labels: int, max_atoms: int):
        super().__init__()
        self.cfg = cfg
        self.num_labels = num_labels
        self.dit = DiT(DiTConfig(hidden=cfg.hidden, depth=cfg.depth, heads=cfg.heads, mlp_ratio=cfg.mlp_ratio,
                                 in_dim=2 * latent_dim, out_dim=latent_dim, num_classes=num_labels))
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))
        self.register_buffer("atom_counts", torch.zeros(num_labels, max_atoms + 1))

    def forward(self, z_t: Tensor, t: Tensor, cond: LatentCond) -> Tensor:
        self_cond = torch.zeros_like(z_t) if cond.self_cond is None else cond.self_cond
        return self.dit(torch.cat([z_t, self_cond], dim=-1), t, TokenConditioning(labels=cond.labels, mask=cond.mask))

    def normalise(self, z: Tensor) -> Tensor:
        return (z - self.latent_mean) / self.latent_std

    def denormalise(self, z: Tensor) -> Tensor:
        return z * self.latent_std + self.latent_mean


class ADiT(nn.Module):
    """The joint model: a (frozen) :class:`AllAtomVAE` and the :class:`LatentFlow` over its latents; both
    travel in one checkpoint. ``periodic [num_labels]`` says which labels decode to crystals."""

    def __init__(self, vae: AllAtomVAE, flow: LatentFlow, periodic: Tensor):
        super().__init__()
        self.vae = vae.requires_grad_(False)
        self.flow = flow
        self.register_buffer("periodic", periodic.clone())


def flow_loss(flow: nn.Module, z0: Tensor, mask: Tensor, labels: Tensor, generator: torch.Generator,
              num_labels: int, cfg: FlowConfig) -> Tensor:
    """Masked flow-matching loss with label dropout and self-conditioning; ``z0 [B, L, D]`` normalised."""
    batch = z0.shape[0]
    t = PROCESS.sample_time(batch, generator, device=z0.device).pow(cfg.time_power)
    keep = mask.unsqueeze(-1).to(z0.dtype)
    noise = torch.randn(z0.shape, generator=generator, device=z0.device, dtype=z0.dtype) * keep
    z_t = PROCESS.corrupt(z0, t, noise)
    labels = drop_labels(labels, num_labels, cfg.label_drop, generator)
    use = (torch.rand(batch, generator=generator, device=z0.device) < cfg.self_cond_prob).nonzero().squeeze(1)
    self_cond = torch.zeros_like(z0)
    if use.numel():  # the detached first pass only for the structures that self-condition
        with torch.no_grad():
            z_use, t_use = z_t[use], t[use]
            first = flow(z_use, t_use, LatentCond(labels[use], mask[use]))
            self_cond[use] = to_x0_eps("velocity", first, z_use, *PROCESS.coefficients(t_use, z_use))[0] * keep[use]
    pred = flow(z_t, t, LatentCond(labels, mask, self_cond))
    error = (pred - PROCESS.target(z0, noise, t)).square().sum(-1)
    return (error * mask).sum() / (mask.sum().clamp_min(1) * z0.shape[-1])


@dataclass
class SelfConditionedDenoiser(Denoiser):
    """A latent flow bound to the linear path, its labels and mask, feeding each call the previous call's
    z_0 estimate (self-conditioning). Holds that estimate: build a fresh one for every sampling run."""

    model: LatentFlow
    labels: Tensor
    mask: Tensor
    process: LinearInterpolant = PROCESS
    previous: Tensor | None = field(default=None)

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        velocity = self.model(x_t, t, LatentCond(self.labels, self.mask, self.previous))
        x0, eps = to_x0_eps("velocity", velocity, x_t, *self.process.coefficients(t, x_t))
        self.previous = x0 * self.mask.unsqueeze(-1).to(x0.dtype)
        return x0, eps


def sample_num_atoms(flow: LatentFlow, labels: Tensor, generator: torch.Generator) -> Tensor:
    """``[B]`` atom counts drawn from the training histogram of each label."""
    return torch.multinomial(flow.atom_counts[labels], 1, generator=generator).squeeze(1)


@torch.no_grad()
def generate(model: ADiT, labels: Tensor, steps: int, cfg_scale: float, generator: torch.Generator,
             num_atoms: Tensor | None = None) -> AllAtoms:
    """Structures for ``labels [B]``: Euler on the latent flow (``steps`` steps, CFG scale ``cfg_scale``,
    1 = conditional only), then the VAE decoder. ``num_atoms [B]`` defaults to draws from the histogram."""
    model.eval()
    flow = model.flow
    counts = sample_num_atoms(flow, labels, generator) if num_atoms is None else num_atoms
    mask = torch.arange(int(counts.max()))[None, :] < counts[:, None]
    z_init = PROCESS.prior((*mask.shape, flow.latent_mean.shape[0]), generator) * mask.unsqueeze(-1)
    denoiser: Denoiser = SelfConditionedDenoiser(flow, labels, mask)
    if cfg_scale != 1.0:
        null = torch.full_like(labels, flow.num_labels)
        denoiser = classifier_free_guidance(denoiser, cfg_scale, uncond=SelfConditionedDenoiser(flow, null, mask))
    z = flow.denormalise(euler(denoiser, z_init, grids.uniform(steps).to(z_init.dtype), generator=generator))
    vae = model.vae
    return vae.to_atoms(vae.decode(z * mask.unsqueeze(-1), labels, mask), labels, model.periodic[labels], mask)
