r"""ADiT's all-atom VAE (Joshi et al. 2025, sec. 3.2): a transformer encoder maps every atom token of a
molecule or crystal to a small per-atom latent (width ``latent_dim``, e.g. 8); a transformer decoder maps
the latents back to species, Cartesian positions, fractional coordinates and (pooled) the lattice.

Tokens carry no positional encoding and the lattice is read out by a masked mean, so encoder and decoder
are permutation-equivariant (the lattice invariant). Rotations are learnt by augmentation.

Loss per structure kind (ADiT's weights, positions in Angstrom here rather than nm):
cross-entropy on species; molecules: MSE of centred positions; crystals: MSE of the minimum-image
fractional difference and of the normalised lattice; plus ``kl_weight`` x KL(q(z|x) || N(0, I)) per atom.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genforge.core.geometry.lattice import minimum_image_frac
from genforge.domains.materials.adit.representation import AllAtoms, centred

VOCAB = 100
"""Species classes: atomic numbers 0..99 (0 is padding)."""
POS_SCALE = 2.0
"""Angstrom per unit of the encoder's position input (QM9 coordinates span about +-4 Angstrom)."""


@dataclass(frozen=True)
class VAEConfig:
    """Size and loss weights of the all-atom VAE.

    Args:
        hidden: token width; heads: attention heads; layers: transformer layers of the encoder and of the
            decoder each; latent_dim: per-atom latent width; frequencies: Fourier frequencies of the
            fractional coordinates; kl_weight: weight of the per-atom KL; pos_weight, frac_weight,
            lattice_weight: weights of the position (Angstrom^2), fractional and lattice MSEs;
            latent_noise: training noise on the decoder's latents, in units of each channel's spread (0 = off).
    """

    hidden: int = 128
    heads: int = 4
    layers: int = 3
    latent_dim: int = 8
    frequencies: int = 4
    kl_weight: float = 1e-5
    pos_weight: float = 10.0
    frac_weight: float = 10.0
    lattice_weight: float = 1.0
    latent_noise: float = 0.0


def transformer(hidden: int, heads: int, layers: int) -> nn.TransformerEncoder:
    """Pre-norm transformer encoder over token sets (batch first, GELU, 2x MLP)."""
    layer = nn.TransformerEncoderLayer(hidden, heads, 2 * hidden, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class AllAtomVAE(nn.Module):
    """Encoder ``AllAtoms -> (mean, logvar) [B, L, latent]`` and decoder ``z -> predictions``.

    Args:
        cfg: the size and weights.
        num_labels: dataset labels (label embedding added to every token).
        lattice_mean, lattice_std: ``[6]`` statistics of the training crystals' scaled lattice.
    """

    def __init__(self, cfg: VAEConfig, num_labels: int, lattice_mean: Tensor, lattice_std: Tensor):
        super().__init__()
        self.cfg = cfg
        in_dim = VOCAB + 3 + 6 * cfg.frequencies + 6 + 1
        self.register_buffer("lattice_mean", lattice_mean.float().clone())
        self.register_buffer("lattice_std", lattice_std.float().clamp_min(0.05).clone())
        self.register_buffer("frequencies", 2.0 * math.pi * torch.arange(1, cfg.frequencies + 1).float())
        self.embed = nn.Linear(in_dim, cfg.hidden)
        self.encoder_label = nn.Embedding(num_labels, cfg.hidden)
        self.encoder = transformer(cfg.hidden, cfg.heads, cfg.layers)
        self.to_moments = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.Linear(cfg.hidden, 2 * cfg.latent_dim))
        self.from_latent = nn.Linear(cfg.latent_dim, cfg.hidden)
        self.decoder_label = nn.Embedding(num_labels, cfg.hidden)
        self.decoder = transformer(cfg.hidden, cfg.heads, cfg.layers)
        self.head = nn.Sequential(nn.LayerNorm(cfg.hidden), nn.Linear(cfg.hidden, VOCAB + 3 + 3 + 6))

    def normalise_lattice(self, lattice: Tensor) -> Tensor:
        return (lattice - self.lattice_mean) / self.lattice_std

    def features(self, atoms: AllAtoms) -> Tensor:
        """Token features ``[B, L, in_dim]``: one-hot species, positions, Fourier fractional features,
        normalised lattice (crystals) and the periodic flag, zero on padding."""
        angles = atoms.frac.unsqueeze(-1) * self.frequencies
        fourier = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(2)
        periodic = atoms.periodic[:, None, None].to(atoms.pos.dtype)
        lattice = self.normalise_lattice(atoms.lattice)[:, None, :] * periodic
        length = atoms.species.shape[1]
        out = torch.cat([F.one_hot(atoms.species, VOCAB).to(atoms.pos.dtype), atoms.pos / POS_SCALE,
                         fourier * periodic, lattice.expand(-1, length, -1), periodic.expand(-1, length, 1)], dim=-1)
        return out * atoms.mask.unsqueeze(-1)

    def encode(self, atoms: AllAtoms) -> tuple[Tensor, Tensor]:
        """Posterior ``(mean, logvar)``, each ``[B, L, latent_dim]`` (zero on padding)."""
        h = self.embed(self.features(atoms)) + self.encoder_label(atoms.label)[:, None, :]
        h = self.encoder(h, src_key_padding_mask=~atoms.mask)
        mean, logvar = self.to_moments(h).chunk(2, dim=-1)
        keep = atoms.mask.unsqueeze(-1)
        return mean * keep, logvar.clamp(-30.0, 20.0) * keep

    def decode(self, z: Tensor, label: Tensor, mask: Tensor) -> dict[str, Tensor]:
        """Predictions from latents ``z [B, L, latent]``: ``logits [B, L, VOCAB]``, ``pos [B, L, 3]``
        (Angstrom, centred), ``frac [B, L, 3]`` (unwrapped), ``lattice [B, 6]`` (normalised)."""
        h = self.from_latent(z) + self.decoder_label(label)[:, None, :]
        h = self.decoder(h, src_key_padding_mask=~mask)
        out = self.head(h)
        weights = mask.unsqueeze(-1).to(out.dtype)
        pooled = (out[..., -6:] * weights).sum(dim=1) / weights.sum(dim=1).clamp_min(1.0)
        return {"logits": out[..., :VOCAB], "pos": centred(out[..., VOCAB:VOCAB + 3] * POS_SCALE, mask),
                "frac": out[..., VOCAB + 3:VOCAB + 6], "lattice": pooled}

    def to_atoms(self, out: dict[str, Tensor], label: Tensor, periodic: Tensor, mask: Tensor) -> AllAtoms:
        """Decoded structures: argmax species (padding class excluded), wrapped frac, physical lattice."""
        species = out["logits"][..., 1:].argmax(dim=-1) + 1
        lattice = out["lattice"] * self.lattice_std + self.lattice_mean
        keep = mask.unsqueeze(-1)
        return AllAtoms(species * mask, out["pos"] * keep, (out["frac"] % 1.0) * keep, lattice, label, periodic, mask)

    def loss(self, atoms: AllAtoms, generator: torch.Generator) -> tuple[Tensor, dict[str, float]]:
        """ELBO-style loss of one batch (module docstring): (scalar, per-term metrics)."""
        mean, logvar = self.encode(atoms)
        noise = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
        z = mean + (0.5 * logvar).exp() * noise
        mask = atoms.mask
        if self.cfg.latent_noise > 0.0:
            spread = mean.detach()[mask].std(0) if int(mask.sum()) > 1 else torch.ones_like(mean[0, 0])
            extra = torch.randn(mean.shape, generator=generator, device=mean.device, dtype=mean.dtype)
            z = z + self.cfg.latent_noise * spread * extra * mask.unsqueeze(-1)
        out = self.decode(z, atoms.label, atoms.mask)
        atom_periodic = atoms.periodic[:, None].expand_as(mask)
        molecule_atoms, crystal_atoms = mask & ~atom_periodic, mask & atom_periodic
        species = F.cross_entropy(out["logits"][mask], atoms.species[mask])
        pos = _masked_mean((out["pos"] - atoms.pos).square().sum(-1), molecule_atoms)
        frac = _masked_mean(minimum_image_frac(out["frac"] - atoms.frac).square().sum(-1), crystal_atoms)
        lattice = _masked_mean((out["lattice"] - self.normalise_lattice(atoms.lattice)).square().mean(-1),
                               atoms.periodic)
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(-1)[mask].mean()
        cfg = self.cfg
        total = (species + cfg.pos_weight * pos + cfg.frac_weight * frac + cfg.lattice_weight * lattice
                 + cfg.kl_weight * kl)
        return total, {"species_ce": float(species.detach()), "pos_mse": float(pos.detach()),
                       "frac_mse": float(frac.detach()),
                       "lattice_mse": float(lattice.detach()), "kl": float(kl.detach())}


def _masked_mean(values: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``values`` where ``mask`` (0 when the mask is empty)."""
    weights = mask.to(values.dtype)
    return (values * weights).sum() / weights.sum().clamp_min(1.0)
