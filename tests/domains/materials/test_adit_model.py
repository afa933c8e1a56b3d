"""ADiT's all-atom representation and networks: permutation equivariance, padding invariance, round trips."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from materials_adit_fixtures import molecule

from genforge.core.geometry.lattice import lattice_params_to_matrix, matrix_to_lattice_params
from genforge.core.geometry.rotations import random_rotations
from genforge.core.testing.equivariance import assert_permutation_equivariant
from genforge.datasets.atoms_dataset import AtomsDataset
from genforge.domains.materials.adit.flow import ADiT, FlowConfig, LatentCond, LatentFlow, generate
from genforge.domains.materials.adit.representation import AllAtoms, concatenate, pack, principal_frame, to_records
from genforge.domains.materials.adit.vae import AllAtomVAE, VAEConfig

VAE = VAEConfig(hidden=32, heads=2, layers=1, latent_dim=4, frequencies=2)


def _vae() -> AllAtomVAE:
    torch.manual_seed(0)
    return AllAtomVAE(VAE, 2, torch.tensor([3.0, 3.0, 3.0, 1.5, 1.5, 1.5]), torch.full((6,), 0.3)).eval()


def _one(species: torch.Tensor, pos: torch.Tensor, frac: torch.Tensor, periodic: bool) -> AllAtoms:
    n = species.shape[0]
    return AllAtoms(species[None], pos[None].float(), frac[None].float(),
                    torch.tensor([[3.2, 3.1, 3.3, 1.5, 1.6, 1.4]]) * periodic, torch.tensor([int(periodic)]),
                    torch.tensor([periodic]), torch.ones(1, n, dtype=torch.bool))


@pytest.mark.parametrize("periodic", [False, True])
def test_vae_is_permutation_equivariant_and_lattice_invariant(periodic: bool) -> None:
    vae = _vae()
    species, pos = molecule(6)  # ethane, 8 atoms
    frac = torch.rand(8, 3, generator=torch.Generator().manual_seed(1))

    def fn(s: torch.Tensor, p: torch.Tensor, f: torch.Tensor) -> list[torch.Tensor]:
        atoms = _one(s, p, f, periodic)
        mean, logvar = vae.encode(atoms)
        out = vae.decode(mean, atoms.label, atoms.mask)
        return [mean[0], logvar[0], out["logits"][0], out["pos"][0], out["frac"][0], out["lattice"][0]]

    with torch.no_grad():
        assert_permutation_equivariant(fn, [species, pos, frac], tol=1e-5,
                                       generator=torch.Generator().manual_seed(2))


def test_padding_slots_change_nothing() -> None:
    vae = _vae()
    torch.manual_seed(0)
    flow = LatentFlow(FlowConfig(hidden=32, depth=2, heads=2), 4, 2, 16)
    for block in flow.dit.blocks:  # leave adaLN-zero's identity start so the test sees the attention
        torch.nn.init.normal_(block.modulation[1].weight, std=0.1)
    torch.nn.init.normal_(flow.dit.final_layer.linear.weight, std=0.1)
    species, pos = molecule(7)
    atoms = _one(species, pos, torch.zeros(6, 3), False)
    padded = concatenate([atoms, AllAtoms(torch.zeros(1, 9, dtype=torch.long), torch.zeros(1, 9, 3),
                                          torch.zeros(1, 9, 3), torch.zeros(1, 6), torch.zeros(1, dtype=torch.long),
                                          torch.zeros(1, dtype=torch.bool), torch.zeros(1, 9, dtype=torch.bool))])
    padded = padded.take(torch.tensor([0]), trim=False)
    assert padded.mask.shape[1] == 9
    with torch.no_grad():
        mean, _ = vae.encode(atoms)
        mean_padded, _ = vae.encode(padded)
        torch.testing.assert_close(mean_padded[:, :6], mean, atol=1e-5, rtol=0)
        assert mean_padded[:, 6:].abs().max() == 0
        z = torch.randn(1, 9, 4)
        t = torch.tensor([0.3])
        short = flow(z[:, :6], t, LatentCond(torch.tensor([0]), atoms.mask))
        long = flow(z, t, LatentCond(torch.tensor([0]), padded.mask))
        torch.testing.assert_close(long[:, :6], short, atol=1e-5, rtol=0)
        assert long[:, 6:].abs().max() == 0 and short.abs().max() > 1e-3


def test_flow_is_permutation_equivariant() -> None:
    torch.manual_seed(0)
    flow = LatentFlow(FlowConfig(hidden=32, depth=2, heads=2), 4, 2, 16)
    for block in flow.dit.blocks:
        torch.nn.init.normal_(block.modulation[1].weight, std=0.1)
    torch.nn.init.normal_(flow.dit.final_layer.linear.weight, std=0.1)
    z, self_cond = torch.randn(7, 4), torch.randn(7, 4)

    def fn(x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        mask = torch.ones(1, 7, dtype=torch.bool)
        return flow(x[None], torch.tensor([0.6]), LatentCond(torch.tensor([1]), mask, s[None]))[0]

    with torch.no_grad():
        assert_permutation_equivariant(fn, [z, self_cond], generator=torch.Generator().manual_seed(3))


def test_pack_and_records_round_trip() -> None:
    species, pos = molecule(10)
    molecules = AtomsDataset(species=species, pos=pos, num_atoms=torch.tensor([7]), source_rows=torch.tensor([0]),
                             names=["m"])
    cell = lattice_params_to_matrix(torch.tensor([[4.0, 5.0, 6.0]], dtype=torch.float64),
                                    torch.tensor([[1.4, 1.6, 1.5]], dtype=torch.float64))
    frac = torch.tensor([[0.1, 0.2, 0.3], [0.6, 0.5, 0.9]], dtype=torch.float64)
    crystals = AtomsDataset(species=torch.tensor([38, 8]), pos=frac @ cell[0], num_atoms=torch.tensor([2]),
                            source_rows=torch.tensor([0]), names=["c"], frac=frac, cell=cell)
    atoms = concatenate([pack(molecules, 0, 8), pack(crystals, 1, 8)])
    mol, crystal = to_records(atoms)
    torch.testing.assert_close(mol.pos, pos - pos.mean(0), atol=1e-5, rtol=0)
    assert mol.cell is None and mol.species.tolist() == species.tolist()
    torch.testing.assert_close(crystal.frac, frac, atol=1e-6, rtol=0)
    for got, expected in zip(matrix_to_lattice_params(crystal.cell[None]), matrix_to_lattice_params(cell),
                             strict=True):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)


def test_generate_decodes_the_requested_kind_with_histogram_sizes() -> None:
    vae = _vae()
    torch.manual_seed(0)
    flow = LatentFlow(FlowConfig(hidden=32, depth=1, heads=2), 4, 2, 16)
    flow.atom_counts[0, 5] = 1.0
    flow.atom_counts[1, 3] = 1.0
    model = ADiT(vae, flow, torch.tensor([False, True]))
    atoms = generate(model, torch.tensor([0, 1, 1]), 4, 2.0, torch.Generator().manual_seed(0))
    assert atoms.num_atoms.tolist() == [5, 3, 3] and atoms.periodic.tolist() == [False, True, True]
    records = to_records(atoms)
    assert records[0].cell is None and records[1].cell is not None and torch.isfinite(records[2].cell).all()


def test_principal_frame_is_rotation_invariant_and_proper() -> None:
    positions = torch.stack([molecule(i)[1][:4] for i in (6, 7, 10, 11)]).float()  # four 4-atom heads of molecules
    mask = torch.ones(4, 4, dtype=torch.bool)
    positions = positions - positions.mean(dim=1, keepdim=True)
    rotations = random_rotations(4, torch.Generator().manual_seed(0))
    reference = principal_frame(positions, mask)
    torch.testing.assert_close(principal_frame(positions @ rotations.transpose(1, 2), mask), reference,
                               atol=1e-4, rtol=0)
    torch.testing.assert_close(torch.cdist(reference, reference), torch.cdist(positions, positions), atol=1e-5, rtol=0)
    spread = reference.square().sum(dim=1)
    assert bool((spread[:, 0] >= spread[:, 1]).all() and (spread[:, 1] >= spread[:, 2]).all())


def test_latent_noise_is_relative_to_the_latent_spread() -> None:
    """Scaling the encoder's means by 10 (and the decoder's input map by 1/10) leaves every reconstruction
    term unchanged: the training noise follows the spread, so the encoder cannot outgrow it."""
    species, pos = molecule(6)
    batch = concatenate([_one(species, pos, torch.zeros(8, 3), False), _one(*molecule(7), torch.zeros(6, 3), False)])
    terms = []
    for scale in (1.0, 10.0):
        torch.manual_seed(0)
        vae = AllAtomVAE(replace(VAE, latent_noise=0.3), 2, torch.zeros(6), torch.ones(6))
        with torch.no_grad():
            moments = vae.to_moments[1]
            moments.weight[:4] *= scale
            moments.bias[:4] *= scale
            moments.weight[4:] = 0.0
            moments.bias[4:] = -30.0  # posterior std ~3e-7: only the augmentation noise remains
            vae.from_latent.weight /= scale
        _, metrics = vae.loss(batch, torch.Generator().manual_seed(1))
        terms.append(torch.tensor([metrics["species_ce"], metrics["pos_mse"]]))
    clean = AllAtomVAE(VAE, 2, torch.zeros(6), torch.ones(6))
    clean.load_state_dict(vae.state_dict())
    _, noiseless = clean.loss(batch, torch.Generator().manual_seed(1))
    torch.testing.assert_close(terms[1], terms[0], rtol=1e-4, atol=1e-6)
    assert abs(noiseless["pos_mse"] - float(terms[1][1])) > 1e-4
