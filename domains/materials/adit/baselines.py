"""Trivial generators every ADiT number is reported next to (all vectorised, seeded).

* ``jittered_training``: training molecules with Gaussian noise of a given RMS per atom (the VAE's
  reconstruction error): what a model that memorises the data and decodes it no better than the VAE gets;
* ``empirical_atoms``: atom counts and species drawn from the training frequencies, positions from an
  isotropic Gaussian with the data's spread (no geometry learnt at all);
* ``random_coordinates``: training crystals (species, lattice) with uniformly random fractional coordinates.
"""

from __future__ import annotations

import math

import torch

from genforge.domains.materials.adit.representation import AllAtoms, centred


def _pick(atoms: AllAtoms, periodic: bool, num: int, generator: torch.Generator) -> AllAtoms:
    pool = (atoms.periodic == periodic).nonzero().squeeze(1)
    return atoms.take(pool[torch.randint(pool.numel(), (num,), generator=generator)])


def jittered_training(train: AllAtoms, num: int, rms: float, generator: torch.Generator) -> AllAtoms:
    """``num`` random training molecules with i.i.d. N(0, rms^2 / 3) noise per coordinate (Angstrom)."""
    picked = _pick(train, False, num, generator)
    noise = torch.randn(picked.pos.shape, generator=generator) * (rms / math.sqrt(3.0))
    return AllAtoms(picked.species, centred(picked.pos + noise, picked.mask), picked.frac, picked.lattice,
                    picked.label, picked.periodic, picked.mask)


def empirical_atoms(train: AllAtoms, num: int, generator: torch.Generator) -> AllAtoms:
    """``num`` molecules with training atom counts and species frequencies, Gaussian positions of the
    training RMS spread."""
    molecules = train.take((~train.periodic).nonzero().squeeze(1))
    counts = molecules.num_atoms[torch.randint(len(molecules), (num,), generator=generator)]
    mask = torch.arange(int(counts.max()))[None, :] < counts[:, None]
    frequencies = torch.bincount(molecules.species[molecules.mask]).float()
    species = torch.multinomial(frequencies, mask.numel(), replacement=True, generator=generator).view(mask.shape)
    spread = molecules.pos[molecules.mask].square().mean().sqrt()
    pos = torch.randn((*mask.shape, 3), generator=generator) * spread
    return AllAtoms(species * mask, centred(pos, mask), torch.zeros_like(pos), torch.zeros(num, 6),
                    molecules.label[:1].expand(num), torch.zeros(num, dtype=torch.bool), mask)


def random_coordinates(train: AllAtoms, num: int, generator: torch.Generator) -> AllAtoms:
    """``num`` random training crystals with their fractional coordinates redrawn uniformly in [0, 1)."""
    picked = _pick(train, True, num, generator)
    frac = torch.rand(picked.frac.shape, generator=generator) * picked.mask.unsqueeze(-1)
    return AllAtoms(picked.species, picked.pos, frac, picked.lattice, picked.label, picked.periodic, picked.mask)
