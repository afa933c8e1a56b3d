"""U-Net for 1-D, 2-D and 3-D data: shapes, conditioning paths, and fitting a tiny batch."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from genforge.core.nets.init import seeded
from genforge.core.nets.unet import UNet, UNetConfig


def _perturbed(config: UNetConfig, seed: int = 0) -> UNet:
    """A U-Net whose zero-initialised layers are perturbed, so every path is active."""
    with seeded(seed):
        model = UNet(config)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    return model


@pytest.mark.parametrize(("dims", "spatial", "attention"), [(1, (20,), ()), (2, (12, 20), (1,)),
                                                            (3, (4, 8, 12), (2,))])
def test_output_shape_and_zero_initialisation(dims: int, spatial: tuple[int, ...],
                                              attention: tuple[int, ...]) -> None:
    config = UNetConfig(dims=dims, in_channels=3, out_channels=2, base_channels=8, channel_mult=(1, 2, 2),
                        attention_levels=attention, attention_heads=2)
    x = torch.randn(2, 3, *spatial, generator=torch.Generator().manual_seed(2))
    t = torch.tensor([0.1, 0.9])
    with seeded(0):
        assert torch.equal(UNet(config)(x, t), torch.zeros(2, 2, *spatial))
    model = _perturbed(config)
    out = model(x, t)
    assert out.shape == (2, 2, *spatial)
    assert out.abs().max() > 1e-3
    assert not torch.allclose(model(x, t.flip(0)), out, atol=1e-5)


def test_rejects_sizes_that_do_not_downsample_evenly() -> None:
    model = UNet(UNetConfig(dims=2, base_channels=8, channel_mult=(1, 2, 2)))
    with pytest.raises(ValueError, match="multiples of 4"):
        model(torch.zeros(1, 1, 12, 10), torch.zeros(1))


def test_conditioning_channels_are_concatenated() -> None:
    config = UNetConfig(dims=2, in_channels=1, out_channels=1, base_channels=8, channel_mult=(1, 2),
                        cond_channels=2)
    model = _perturbed(config)
    generator = torch.Generator().manual_seed(3)
    x, cond = torch.randn(2, 1, 8, 8, generator=generator), torch.randn(2, 2, 8, 8, generator=generator)
    t = torch.full((2,), 0.5)
    out = model(x, t, cond)
    assert out.shape == x.shape
    assert not torch.allclose(model(x, t, cond.flip(-1)), out, atol=1e-5)
    with pytest.raises(ValueError, match="expects cond"):
        model(x, t)


@pytest.fixture
def single_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from intra-op threads, and OpenMP threads oversubscribed by
    ``pytest -n 2`` on 2 cores slow a training loop down by 10-50x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("single_thread")
def test_fits_a_tiny_batch() -> None:
    config = UNetConfig(dims=2, in_channels=1, out_channels=1, base_channels=8, channel_mult=(1, 2),
                        attention_levels=(1,), attention_heads=2, groups=4)
    with seeded(4):
        model = UNet(config)
    generator = torch.Generator().manual_seed(5)
    x, target = torch.randn(4, 1, 8, 8, generator=generator), torch.randn(4, 1, 8, 8, generator=generator)
    t = torch.rand(4, generator=generator)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(100):
        loss = (model(x, t) - target).square().mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0] / 10
