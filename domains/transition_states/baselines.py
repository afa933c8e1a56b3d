"""Transition-state guesses without learning: the aligned linear midpoint and the IDPP highest image.

Both first superpose the product onto the reactant (Kabsch), so the guess lives in the reactant's frame.
Positions in Angstrom, energies in eV.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import torch
from ase import Atoms
from ase.mep import NEB
from torch import Tensor

from genforge.core.geometry.kabsch import superpose
from genforge.domains.transition_states.oracle import XtbError, XtbOracle


def linear_midpoint(pos_reactant: Tensor, pos_product: Tensor, batch: Tensor | None = None) -> Tensor:
    """TS guess ``(R + P*) / 2`` with ``P*`` the product Kabsch-superposed onto the reactant R.

    Swapping R and P gives the same structure up to a rigid motion (the optimal superposition of R onto
    P is the inverse motion), and moving R rigidly moves the guess with it while moving P changes nothing.

    Shapes: ``pos_reactant``, ``pos_product [N, 3]`` (one structure, or a graph batch with ``batch [N]``);
    returns ``[N, 3]``.
    """
    return 0.5 * (pos_reactant + superpose(pos_product, pos_reactant, batch=batch))


@dataclass(frozen=True)
class IdppGuess:
    """The highest-energy interior image of an IDPP path.

    Shapes: ``positions [N, 3]`` (Angstrom), ``image_energies [K]`` (eV, the K interior images; NaN where
    xTB failed); ``energy`` is the chosen image's GFN2-xTB energy (eV) and ``seconds`` the wall time of
    interpolation plus single points.
    """

    positions: Tensor
    energy: float
    image_energies: Tensor
    seconds: float


def idpp_path(species: Tensor, pos_reactant: Tensor, pos_product: Tensor, *, num_images: int = 9) -> Tensor:
    """``num_images`` images ``[K + 2, N, 3]`` (end points included) of the image-dependent pair potential.

    IDPP (Smidstrup et al., J. Chem. Phys. 140, 214106, 2014, Eq. 2): interior images minimise
    sum_{i<j} w(d_ij) (d_ij - d_ij^k)^2, whose target distances d_ij^k interpolate the end points'
    linearly, starting from the Cartesian linear path; ase's NEB relaxes them with MDMin (fmax 0.1 eV/A).
    """
    numbers = species.cpu().numpy()
    aligned = superpose(pos_product.double(), pos_reactant.double())
    first = Atoms(numbers=numbers, positions=pos_reactant.detach().double().cpu().numpy())
    last = Atoms(numbers=numbers, positions=aligned.detach().cpu().numpy())
    images = [first, *(first.copy() for _ in range(num_images - 2)), last]
    NEB(images, method="improvedtangent").interpolate(method="idpp")
    return torch.stack([torch.from_numpy(image.get_positions()) for image in images])


def idpp_highest_image(species: Tensor, pos_reactant: Tensor, pos_product: Tensor, oracle: XtbOracle, *,
                       charge: int = 0, multiplicity: int = 1, num_images: int = 9) -> IdppGuess:
    """IDPP path between R and aligned P, interior images scored by ``oracle``; the highest one is the guess.

    Images where xTB fails are skipped; if all fail, the middle image is returned with ``energy`` NaN.
    """
    start = time.perf_counter()
    interior = idpp_path(species, pos_reactant, pos_product, num_images=num_images)[1:-1]
    energies = torch.full((interior.shape[0],), float("nan"), dtype=torch.float64)
    for index, positions in enumerate(interior):
        with contextlib.suppress(XtbError):
            energies[index] = oracle.single_point(species, positions, charge=charge,
                                                  multiplicity=multiplicity).energy
    finite = torch.isfinite(energies)
    highest = int(torch.argmax(torch.where(finite, energies, -torch.inf)))
    best = highest if finite.any() else len(energies) // 2
    return IdppGuess(interior[best], float(energies[best]), energies, time.perf_counter() - start)
