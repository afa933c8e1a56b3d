"""DiT: adaLN-zero initialisation, token-permutation equivariance, masking, conditioning, gradients."""

from __future__ import annotations

import pytest
import torch

from genforge.core.nets.dit import DiT, DiTConfig, TokenConditioning, drop_labels
from genforge.core.nets.init import seeded

F64 = torch.float64
CONFIG = DiTConfig(hidden=32, depth=2, heads=4, mlp_ratio=2.0, in_dim=5, out_dim=3, num_classes=4)


def _perturbed(config: DiTConfig = CONFIG, seed: int = 0) -> DiT:
    """A float64 DiT whose zero-initialised layers are perturbed, so every path is active."""
    with seeded(seed):
        model = DiT(config).double()
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn(parameter.shape, generator=generator, dtype=F64))
    return model


def _inputs(batch: int, length: int, seed: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, length, CONFIG.in_dim, generator=generator, dtype=F64),
            torch.rand(batch, generator=generator, dtype=F64))


def test_output_is_zero_at_initialisation() -> None:
    with seeded(0):
        model = DiT(CONFIG)
    x, t = _inputs(2, 6)
    assert torch.equal(model(x.float(), t.float(), torch.tensor([0, 3])), torch.zeros(2, 6, 3))


def test_permutation_equivariance_over_tokens() -> None:
    model = _perturbed()
    x, t = _inputs(3, 9)
    permutation = torch.randperm(9, generator=torch.Generator().manual_seed(3))
    labels = torch.tensor([0, 2, 4])
    out = model(x, t, labels)
    assert out.abs().max() > 1e-2
    assert torch.allclose(model(x[:, permutation], t, labels), out[:, permutation], atol=1e-5)


def test_padding_tokens_do_not_affect_real_tokens() -> None:
    model = _perturbed()
    x, t = _inputs(2, 8)
    mask = torch.tensor([[True] * 5 + [False] * 3, [True] * 8])
    garbage = x.clone()
    garbage[0, 5:] = 100.0
    out = model(garbage, t, TokenConditioning(labels=torch.tensor([1, 1]), mask=mask))
    alone = model(x[:1, :5], t[:1], torch.tensor([1]))
    assert torch.allclose(out[0, :5], alone[0], atol=1e-5)
    assert torch.equal(out[0, 5:], torch.zeros(3, 3, dtype=F64))
    unmasked = model(x, t, TokenConditioning(labels=torch.tensor([1, 1])))
    assert not torch.allclose(unmasked[0, :5], alone[0], atol=1e-3)


def test_labels_condition_and_none_means_the_null_label() -> None:
    model = _perturbed()
    x, t = _inputs(2, 4)
    null = torch.full((2,), CONFIG.num_classes)
    assert torch.equal(model(x, t, None), model(x, t, null))
    assert not torch.allclose(model(x, t, torch.tensor([0, 0])), model(x, t, torch.tensor([1, 1])), atol=1e-3)


def test_positional_features_are_permuted_with_tokens() -> None:
    config = DiTConfig(hidden=32, depth=1, heads=2, in_dim=5, out_dim=3, pos_dim=4)
    model = _perturbed(config)
    x, t = _inputs(2, 6)
    pos = torch.randn(2, 6, 4, generator=torch.Generator().manual_seed(4), dtype=F64)
    permutation = torch.tensor([5, 0, 3, 1, 4, 2])
    out = model(x, t, TokenConditioning(pos=pos))
    assert torch.allclose(model(x[:, permutation], t, TokenConditioning(pos=pos[:, permutation])),
                          out[:, permutation], atol=1e-5)
    assert not torch.allclose(model(x, t, TokenConditioning(pos=pos.flip(1))), out, atol=1e-3)
    with pytest.raises(ValueError, match=r"cond\.pos"):
        model(x, t, None)


def test_gradients_reach_every_parameter_once_the_zero_layers_moved() -> None:
    """adaLN-zero: at init only the output layer gets a gradient (everything behind it is multiplied
    by zero weights); one step opens the final modulation and the gates, a second one every path."""
    with seeded(5):
        model = DiT(CONFIG)
    x, t = _inputs(4, 6)
    x, t = x.float(), t.float()
    target = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(6))
    labels = torch.tensor([0, 1, 2, 3])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    without_gradient = []
    for _ in range(3):
        optimizer.zero_grad()
        (model(x, t, labels) - target).square().mean().backward()
        without_gradient.append({name for name, p in model.named_parameters() if p.grad.abs().max() == 0})
        optimizer.step()
    every = {name for name, _ in model.named_parameters()}
    assert every - without_gradient[0] == {"final_layer.linear.weight", "final_layer.linear.bias"}
    assert "blocks.0.modulation.1.weight" not in without_gradient[1]
    assert without_gradient[2] == set()


def test_drop_labels_rate_and_null_index() -> None:
    labels = torch.zeros(10000, dtype=torch.long)
    dropped = drop_labels(labels, 7, 0.2, torch.Generator().manual_seed(7))
    assert set(dropped.unique().tolist()) == {0, 7}
    assert abs(float((dropped == 7).double().mean()) - 0.2) < 0.02
