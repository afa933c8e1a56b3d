r"""CrysBFN started from the template-substitution guess (an SDEdit-style hybrid, a diagnostic of CSP).

The template's fractional coordinates and lattice are pushed through the Bayesian flows to time t0 (a sample
of p_F(m, c | template; t0) for the coordinates and of the Gaussian BFN flow for the normalised lattice),
and the CrysBFN sampler runs from there to t = 0 on a grid of round(steps * t0) steps. It tells whether the
learned model adds to the template: at t0 = 0 it returns the template (up to the last network refinement),
at t0 = 1 it is plain CrysBFN. A composition without a template (no training crystal with its atom count)
gets uniformly random coordinates in the mean training cell as its guess.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.solvers.crystal import periodic_lattice_bfn
from genforge.datasets.atoms_dataset import AtomsDataset
from genforge.domains.materials.baselines import TemplateBaseline
from genforge.domains.materials.crysbfn.model import CrystalNet
from genforge.domains.materials.crysbfn.task import SAMPLE_CHUNK, CrystalCSPConfig, Processes


def template_guesses(train: AtomsDataset, held_out: AtomsDataset, generator: torch.Generator
                     ) -> tuple[Tensor, Tensor]:
    """(frac ``[N, 3]``, cells ``[B, 3, 3]`` Angstrom, float64) of the template guesses of ``held_out``'s
    compositions (random coordinates in the mean training cell where there is no template)."""
    baseline = TemplateBaseline(train)
    fracs, cells = [], []
    mean_cell = train.cell.double().mean(0)
    for species in held_out.species.split(held_out.num_atoms.tolist()):
        guess = baseline.predict(species.tolist())
        fracs.append(guess.frac.double() if guess is not None else
                     torch.rand((species.shape[0], 3), generator=generator, dtype=torch.float64))
        cells.append(guess.cell.double() if guess is not None else mean_cell)
    return torch.cat(fracs), torch.stack(cells)


@torch.no_grad()
def predict_from_templates(model: CrystalNet, cfg: CrystalCSPConfig, train: AtomsDataset, held_out: AtomsDataset,
                           t0: float, steps: int, seed: int) -> tuple[Tensor, Tensor]:
    """One structure per held-out composition started from its template at time ``t0`` -> (frac ``[N, 3]``,
    cells ``[B, 3, 3]`` Angstrom)."""
    model.eval()
    processes = Processes.of(cfg)
    generator = torch.Generator().manual_seed(seed)
    frac0, cell0 = template_guesses(train, held_out, generator)
    num_atoms = held_out.num_atoms
    ptr = torch.cat([num_atoms.new_zeros(1), num_atoms.cumsum(0)]).tolist()
    grid = torch.linspace(t0, 0.0, max(1, round(steps * t0)) + 1, dtype=torch.float64)
    fracs, cells = [], []
    for start in range(0, num_atoms.shape[0], SAMPLE_CHUNK):
        stop = min(start + SAMPLE_CHUNK, num_atoms.shape[0])
        batch = torch.repeat_interleave(torch.arange(stop - start), num_atoms[start:stop])
        species = held_out.species[ptr[start]:ptr[stop]]
        times = torch.full((stop - start,), t0)
        frac = frac0[ptr[start]:ptr[stop]].float()
        m, c = processes.coords.flow_parameters(frac, times[batch], processes.coords.sample_noise(frac, generator))
        lattice = model.normalise(cell0[start:stop].float())
        mu = processes.lattice.corrupt(lattice, times, torch.randn(lattice.shape, generator=generator))

        def bfn(m: Tensor, c: Tensor, mu: Tensor, t: Tensor, species: Tensor = species,
                batch: Tensor = batch) -> tuple[Tensor, Tensor]:
            return model.bfn(m, c, mu, t, species, batch)

        frac_out, lattice_out = periodic_lattice_bfn(bfn, processes.coords, processes.lattice, m, mu, grid,
                                                     generator=generator, concentration_init=c)
        fracs.append(frac_out)
        cells.append(model.denormalise(lattice_out))
    return torch.cat(fracs), torch.cat(cells)
