r"""Niggli reduction of crystal lattices (Krivy & Gruber 1976, with the epsilon comparisons of
Grosse-Kunstleve, Sauter & Adams 2004, Acta Cryst. A60, 1-6).

The Niggli cell is the unique reduced basis of a lattice: with the metric parameters
:math:`A = a\cdot a, B = b\cdot b, C = c\cdot c, \xi = 2 b\cdot c, \eta = 2 a\cdot c, \zeta = 2 a\cdot b`
it satisfies :math:`A \le B \le C`, all of :math:`\xi, \eta, \zeta` positive or all non-positive, and
:math:`|\xi| \le B, |\eta| \le A, |\zeta| \le A` plus the boundary conditions. The eight steps below act
on the basis vectors directly (rows of the cell, pymatgen's convention), so the unimodular integer
transform ``T`` with ``reduced = T @ cell`` comes out alongside; fractional coordinates map as
``frac_reduced = frac @ inverse(T)``. The loop runs over reduction steps of one cell (a handful), never
over atoms; batches loop over cells.
"""

from __future__ import annotations

import torch
from torch import Tensor

MAX_STEPS = 1000


def _metric(basis: Tensor) -> tuple[float, ...]:
    a, b, c = basis
    return (float(a @ a), float(b @ b), float(c @ c), float(2 * b @ c), float(2 * a @ c), float(2 * a @ b))


def _sign(value: float, eps: float) -> int:
    return 1 if value > eps else (-1 if value < -eps else 0)


def _step(basis: Tensor, eps: float) -> Tensor | None:
    """The row operation ``M`` (``basis <- M @ basis``) of the first applicable Krivy-Gruber step, or None."""
    a2, b2, c2, xi, eta, zeta = _metric(basis)
    if a2 > b2 + eps or (abs(a2 - b2) <= eps and abs(xi) > abs(eta) + eps):
        return torch.tensor([[0.0, -1, 0], [-1, 0, 0], [0, 0, -1]])
    if b2 > c2 + eps or (abs(b2 - c2) <= eps and abs(eta) > abs(zeta) + eps):
        return torch.tensor([[-1.0, 0, 0], [0, 0, -1], [0, -1, 0]])
    signs = [_sign(v, eps) for v in (xi, eta, zeta)]
    if signs[0] * signs[1] * signs[2] == 1:
        flips = [-1.0 if s == -1 else 1.0 for s in signs]
        return torch.diag(torch.tensor(flips)) if -1.0 in flips else _reduction_step(a2, b2, xi, eta, zeta, eps)
    flips = [-1.0 if s == 1 else 1.0 for s in signs]
    if flips[0] * flips[1] * flips[2] == -1.0:  # an odd number of flips happens only with a zero term
        flips[signs.index(0)] = -1.0
    if flips != [1.0, 1.0, 1.0]:
        return torch.diag(torch.tensor(flips))
    return _reduction_step(a2, b2, xi, eta, zeta, eps)


def _reduction_step(a2: float, b2: float, xi: float, eta: float, zeta: float, eps: float) -> Tensor | None:
    """Steps 5-8: subtract a neighbouring basis vector to shorten an off-diagonal term."""
    op = torch.eye(3)
    if abs(xi) > b2 + eps or (abs(xi - b2) <= eps and 2 * eta < zeta - eps) or (abs(xi + b2) <= eps and zeta < -eps):
        op[2, 1] = -float(torch.sign(torch.tensor(xi)))
        return op
    if abs(eta) > a2 + eps or (abs(eta - a2) <= eps and 2 * xi < zeta - eps) or (abs(eta + a2) <= eps and zeta < -eps):
        op[2, 0] = -float(torch.sign(torch.tensor(eta)))
        return op
    if abs(zeta) > a2 + eps or (abs(zeta - a2) <= eps and 2 * xi < eta - eps) or (abs(zeta + a2) <= eps and eta < -eps):
        op[1, 0] = -float(torch.sign(torch.tensor(zeta)))
        return op
    total = xi + eta + zeta + a2 + b2
    if total < -eps or (abs(total) <= eps and 2 * (a2 + eta) + zeta > eps):
        op[2, 0] = op[2, 1] = 1.0
        return op
    return None


def niggli_reduce(cell: Tensor, tol: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Niggli-reduced cell and integer transform of one lattice.

    Args:
        cell: ``[3, 3]`` lattice vectors as rows (Angstrom), non-singular.
        tol: relative tolerance; comparisons use ``eps = tol * volume^(1/3)`` (squared-length units: Å²
            scaled like pymatgen's default).

    Returns:
        ``(reduced [3, 3], T [3, 3])`` with ``reduced = T @ cell``, ``T`` integer-valued with det +-1
        (det +1 when ``cell`` is right-handed: every step preserves handedness).

    Raises:
        ValueError: the cell is singular or the reduction does not terminate.
    """
    basis = cell.detach().to(torch.float64)
    volume = float(torch.linalg.det(basis).abs())
    if not volume > 0.0:
        raise ValueError("cannot Niggli-reduce a singular cell (zero volume)")
    eps = tol * volume ** (1.0 / 3.0)
    transform = torch.eye(3, dtype=torch.float64)
    for _ in range(MAX_STEPS):
        op = _step(basis, eps)
        if op is None:
            return basis.to(cell.dtype), transform.round().to(cell.dtype)
        op = op.to(torch.float64)
        basis, transform = op @ basis, op @ transform
    raise ValueError(f"Niggli reduction did not converge in {MAX_STEPS} steps")


def niggli_reduce_batch(cells: Tensor, tol: float = 1e-5) -> tuple[Tensor, Tensor]:
    """:func:`niggli_reduce` over ``cells [b2, 3, 3]``; returns ``(reduced [b2, 3, 3], T [b2, 3, 3])``."""
    pairs = [niggli_reduce(cell, tol) for cell in cells]
    return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])
