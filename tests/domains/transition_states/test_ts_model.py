"""TS flow network and sampler: E(3) equivariance, permutation equivariance, frame handling."""

from __future__ import annotations

import pytest
import torch
from _ts_synthetic import synthetic_reactions

from genforge.core.geometry.kabsch import aligned_rmsd
from genforge.core.geometry.rotations import random_rotations
from genforge.core.testing.equivariance import (
    GeometricOutputs,
    assert_permutation_equivariant,
    assert_se3_equivariant,
)
from genforge.domains.transition_states.flow import generate, reaction_condition
from genforge.domains.transition_states.model import MultiFrameEGNNLayer, ReactionCondition, TsFlowNet


def _model(seed: int = 0, *, bond_features: bool = False) -> TsFlowNet:
    torch.manual_seed(seed)
    model = TsFlowNet(hidden=16, num_layers=2, num_rbf=8, time_dim=8, bond_features=bond_features).double().eval()
    for layer in model.layers:  # make the vector updates large enough that a broken symmetry shows
        torch.nn.init.normal_(layer.phi_v[-1].weight, std=0.3)
    return model


def _inputs(seed: int = 3):
    reactions = synthetic_reactions(3, seed)
    generator = torch.Generator().manual_seed(seed)
    x_t = torch.randn(reactions.species.shape[0], 3, generator=generator, dtype=torch.float64)
    t = torch.rand(len(reactions), generator=generator, dtype=torch.float64)[reactions.batch]
    return reactions, x_t, t


@pytest.mark.parametrize("bond_features", [False, True])
def test_network_is_se3_equivariant_in_x_t_reactant_and_product_jointly(bond_features: bool) -> None:
    model = _model(bond_features=bond_features)
    reactions, x_t, t = _inputs()
    batch = reactions.batch

    def fn(frames: torch.Tensor) -> GeometricOutputs:
        cond = ReactionCondition(reactions.species, frames[:, 1], frames[:, 2], batch, len(reactions))
        return GeometricOutputs(positions=model(frames[:, 0], t, cond))

    frames = torch.stack([x_t, reactions.pos_reactant, reactions.pos_product], dim=1)
    error = assert_se3_equivariant(fn, frames, batch=batch, tol=1e-9,
                                   generator=torch.Generator().manual_seed(0))
    assert error < 1e-9
    moved = fn(frames).positions - 0.5 * (frames[:, 1] + frames[:, 2])
    assert moved.abs().max() > 1e-2  # the output is not just the midpoint (the check is not vacuous)


@pytest.mark.parametrize("bond_features", [False, True])
def test_network_is_permutation_equivariant(bond_features: bool) -> None:
    model = _model(1, bond_features=bond_features)
    reactions, x_t, t = _inputs(4)
    batch = reactions.batch

    def fn(species: torch.Tensor, x: torch.Tensor, time: torch.Tensor, reactant: torch.Tensor,
           product: torch.Tensor) -> torch.Tensor:
        return model(x, time, ReactionCondition(species, reactant, product, batch, len(reactions)))

    assert_permutation_equivariant(fn, [reactions.species, x_t, t, reactions.pos_reactant,
                                        reactions.pos_product], batch=batch, tol=1e-9,
                                   generator=torch.Generator().manual_seed(2))


def test_reactot_generation_follows_the_reactant_and_ignores_the_product_frame() -> None:
    model = _model(2)
    reactions, _, _ = _inputs(5)
    species, batch = reactions.species, reactions.batch
    reference = generate(model, "reactot", species, reactions.pos_reactant, reactions.pos_product, batch)
    generator = torch.Generator().manual_seed(7)
    rotations = random_rotations(2 * len(reactions), generator, dtype=torch.float64)
    shifts = torch.randn(2 * len(reactions), 3, generator=generator, dtype=torch.float64)
    count = len(reactions)
    reactant = torch.einsum("nij,nj->ni", rotations[:count][batch], reactions.pos_reactant) + shifts[:count][batch]
    product = torch.einsum("nij,nj->ni", rotations[count:][batch], reactions.pos_product) + shifts[count:][batch]
    moved = generate(model, "reactot", species, reactant, product, batch)
    expected = torch.einsum("nij,nj->ni", rotations[:count][batch], reference) + shifts[:count][batch]
    assert (moved - expected).abs().max() < 1e-8


def test_tsgen_generation_is_reproducible_per_seed_and_varies_across_seeds() -> None:
    model = _model(3)
    reactions, _, _ = _inputs(6)
    args = (reactions.species, reactions.pos_reactant, reactions.pos_product, reactions.batch)
    first, again = generate(model, "tsgen", *args, seed=1), generate(model, "tsgen", *args, seed=1)
    other = generate(model, "tsgen", *args, seed=2)
    assert torch.equal(first, again)
    assert (first - other).abs().max() > 1e-3


def test_condition_centres_the_reactant_and_superposes_the_product() -> None:
    reactions = synthetic_reactions(4, 8)
    cond = reaction_condition(reactions.species, reactions.pos_reactant, reactions.pos_product, reactions.batch)
    centre = torch.zeros(len(reactions), 3, dtype=torch.float64).index_add_(0, reactions.batch, cond.reactant)
    assert centre.abs().max() < 1e-10
    before = aligned_rmsd(reactions.pos_product, reactions.pos_reactant, batch=reactions.batch)
    after = (cond.product - cond.reactant).square().sum(-1)
    per_reaction = torch.zeros(len(reactions), dtype=torch.float64).index_add_(0, reactions.batch, after)
    counts = torch.bincount(reactions.batch).double()
    assert torch.allclose((per_reaction / counts).sqrt(), before, atol=1e-8)


def test_layer_equals_the_message_mlp_on_concatenated_features() -> None:
    torch.manual_seed(0)
    layer = MultiFrameEGNNLayer(hidden=8, edge_dim=5, num_vectors=2).double()
    torch.nn.init.normal_(layer.phi_v[-1].weight, std=0.3)
    edge_index = torch.tensor([[1, 2, 0, 2, 0, 1, 4], [0, 0, 1, 1, 2, 2, 3]])
    h = torch.randn(5, 8, dtype=torch.float64)
    vectors = torch.randn(7, 2, 3, dtype=torch.float64)
    features = torch.randn(7, 5, dtype=torch.float64)
    degree = torch.bincount(edge_index[1], minlength=5).clamp(min=1).double().unsqueeze(-1)
    h_new, update = layer(h, edge_index, vectors, features, degree)
    sender, receiver = edge_index
    message = layer.phi_e(torch.cat([h[receiver], h[sender], features], dim=-1))
    unit = vectors / (vectors.norm(dim=-1, keepdim=True) + 1.0)
    per_edge = (layer.phi_v(message).unsqueeze(-1) * unit).sum(1)
    expected_update = torch.zeros(5, 3, dtype=torch.float64).index_add_(0, receiver, per_edge) / degree
    summed = torch.zeros(5, 8, dtype=torch.float64).index_add_(0, receiver, message)
    assert torch.allclose(update, expected_update, atol=1e-12)
    assert torch.allclose(h_new, h + layer.phi_h(torch.cat([h, summed], dim=-1)), atol=1e-12)
    assert update[4].abs().max() == 0 and update[3].abs().max() > 1e-4  # atom 4 receives nothing, atom 3 does
