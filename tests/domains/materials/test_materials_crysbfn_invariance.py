"""CSPNet and the CrysBFN / DiffCSP losses: invariance to periodic shifts and atom permutations."""

from __future__ import annotations

import functools

import pytest
import torch
from torch import Tensor

from genforge.core.geometry.rotations import random_rotations
from genforge.core.nets.cspnet import CSPNet
from genforge.datasets.batch import AtomsBatch
from genforge.domains.materials.crysbfn.model import CrystalNet, lattice_features
from genforge.domains.materials.crysbfn.task import CrystalCSPConfig, Processes, crysbfn_terms, diffcsp_terms

F64 = torch.float64
COUNTS = torch.tensor([3, 5, 4])
BATCH = torch.repeat_interleave(torch.arange(3), COUNTS)


def _crystals(seed: int) -> tuple[Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    frac = torch.rand(int(COUNTS.sum()), 3, generator=generator, dtype=F64)
    cell = 4.0 * torch.eye(3, dtype=F64) + 0.5 * torch.rand(3, 3, 3, generator=generator, dtype=F64)
    species = torch.randint(1, 30, (int(COUNTS.sum()),), generator=generator)
    return frac, cell, species


def _permutation(generator: torch.Generator) -> Tensor:
    """A permutation of the atoms inside each crystal (the batch vector stays sorted)."""
    starts = torch.cumsum(COUNTS, 0) - COUNTS
    return torch.cat([int(start) + torch.randperm(int(count), generator=generator)
                      for start, count in zip(starts, COUNTS, strict=True)])


@pytest.mark.parametrize("dense", [True, False])
def test_cspnet_invariant_to_periodic_shifts_and_equivariant_to_permutations_and_rotations(dense: bool) -> None:
    frac, cell, species = _crystals(0)
    features = torch.nn.functional.one_hot(species % 8, 8).to(F64)
    torch.manual_seed(0)
    net = CSPNet(hidden=16, num_layers=2, num_frequencies=4, node_in=8, atom_out=3, length_scale=4.0).double()
    torch.nn.init.normal_(net.lattice_out.weight)  # zero at initialisation: make the lattice head non-trivial
    net = functools.partial(net, dense=dense)
    atoms, lattice = net(features, frac, cell, BATCH)
    generator = torch.Generator().manual_seed(1)
    shift = torch.rand(3, 3, generator=generator, dtype=F64)[BATCH]  # one translation per crystal
    integers = torch.randint(-3, 4, frac.shape, generator=generator).to(F64)  # per-atom lattice vectors
    shifted = net(features, frac + shift + integers, cell, BATCH)
    torch.testing.assert_close(shifted, (atoms, lattice), atol=1e-10, rtol=0)
    permutation = _permutation(generator)
    permuted_atoms, permuted_lattice = net(features[permutation], frac[permutation], cell, BATCH)
    torch.testing.assert_close(permuted_atoms, atoms[permutation], atol=1e-10, rtol=0)
    torch.testing.assert_close(permuted_lattice, lattice, atol=1e-10, rtol=0)
    rotation = random_rotations(3, generator=generator, dtype=F64)  # L -> L R^T rotates only the lattice output
    rotated_atoms, rotated_lattice = net(features, frac, cell @ rotation.transpose(-1, -2), BATCH)
    torch.testing.assert_close(rotated_atoms, atoms, atol=1e-10, rtol=0)
    torch.testing.assert_close(rotated_lattice, lattice @ rotation.transpose(-1, -2), atol=1e-10, rtol=0)
    assert (atoms - net(features, (frac + 0.1 * torch.rand(frac.shape, dtype=F64)), cell, BATCH)[0]).abs().max() > 1e-4


@pytest.mark.parametrize("graph_out", [None, 5])
def test_cspnet_dense_and_sparse_layouts_agree(graph_out: int | None) -> None:
    """The padded dense layout (masked pairs) and the sparse edge list compute the same function, also with
    a one-atom crystal and much padding; the gradients agree too."""
    counts = torch.tensor([3, 1, 7, 2])
    batch = torch.repeat_interleave(torch.arange(4), counts)
    generator = torch.Generator().manual_seed(3)
    frac = torch.rand(int(counts.sum()), 3, generator=generator, dtype=F64)
    cell = 4.0 * torch.eye(3, dtype=F64) + torch.rand(4, 3, 3, generator=generator, dtype=F64)
    features = torch.randn(int(counts.sum()), 6, generator=generator, dtype=F64, requires_grad=True)
    torch.manual_seed(0)
    net = CSPNet(hidden=16, num_layers=2, num_frequencies=3, node_in=6, atom_out=4, length_scale=4.0,
                 graph_out=graph_out).double()
    if graph_out is None:
        torch.nn.init.normal_(net.lattice_out.weight)
    outputs = {dense: net(features, frac, cell, batch, dense=dense) for dense in (True, False)}
    torch.testing.assert_close(outputs[True], outputs[False], atol=1e-12, rtol=0)
    grads = {dense: torch.autograd.grad(sum(o.square().sum() for o in out), features)[0]
             for dense, out in outputs.items()}
    torch.testing.assert_close(grads[True], grads[False], atol=1e-12, rtol=0)
    assert outputs[True][0].abs().max() > 1e-3


@pytest.mark.parametrize("terms", [crysbfn_terms, functools.partial(crysbfn_terms, uniform=True), diffcsp_terms])
def test_losses_invariant_to_periodic_shifts_and_permutations(terms) -> None:
    frac, cell, species = _crystals(2)
    processes = Processes.of(CrystalCSPConfig(flow_steps=50))
    torch.manual_seed(0)
    features = lattice_features(cell)
    model = CrystalNet(16, 2, 4, 16, features.mean(0), features.std(0)).double()
    generator = torch.Generator().manual_seed(5)
    t = torch.tensor([0.9, 0.5, 0.1], dtype=F64)
    if terms is not diffcsp_terms:
        noise = processes.coords.sample_noise(frac, generator).to(F64)
    else:
        noise = torch.randn(frac.shape, generator=generator, dtype=F64)
    lattice_noise = torch.randn(3, 6, generator=generator, dtype=F64)

    def loss(frac_in: Tensor, species_in: Tensor, noise_in: Tensor) -> Tensor:
        atoms = AtomsBatch(pos=torch.zeros_like(frac_in), species=species_in, batch=BATCH, num_graphs=3,
                           node_mask=torch.ones_like(BATCH, dtype=torch.bool), frac=frac_in, cell=cell)
        return torch.stack(terms(model, atoms, t, noise_in, lattice_noise, processes))

    reference = loss(frac, species, noise)
    assert torch.isfinite(reference).all() and (reference > 0).all()
    integers = torch.randint(-2, 3, frac.shape, generator=generator).to(F64)
    translation = torch.rand(3, 3, generator=generator, dtype=F64)[BATCH]  # one common shift per crystal
    torch.testing.assert_close(loss(frac + integers + translation, species, noise), reference, atol=1e-9, rtol=1e-9)
    permutation = _permutation(generator)
    torch.testing.assert_close(loss(frac[permutation], species[permutation], noise[permutation]), reference,
                               atol=1e-9, rtol=1e-9)
    assert not torch.allclose(loss((frac + 0.2) % 1.0 * 0.5, species, noise), reference)
