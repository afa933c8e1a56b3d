"""Data sources: epochs without replacement, exact position restore, sharding, the three kinds of data."""

from __future__ import annotations

import pytest
import torch

from genforge.core.errors import ConfigError
from genforge.core.train import IndexedData, Shard, shard_batch
from genforge.core.train.data import EpochSampler, make_source


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_each_epoch_is_a_permutation_and_drops_the_last_partial_batch():
    sampler = EpochSampler(size=10, batch_size=3, generator=_generator())
    epochs = [torch.cat([sampler.next_indices() for _ in range(3)]) for _ in range(4)]
    for seen in epochs:
        assert seen.unique().numel() == 9  # 3 batches of 3 out of 10, no repeats
    assert sampler.epoch == 3
    assert not all(torch.equal(epochs[0], other) for other in epochs[1:])


def test_sampler_restores_mid_epoch():
    sampler = EpochSampler(size=10, batch_size=3, generator=_generator())
    for _ in range(4):
        sampler.next_indices()
    state = sampler.state_dict()
    expected = [sampler.next_indices() for _ in range(5)]
    restored = EpochSampler(size=10, batch_size=3, generator=_generator(seed=123))
    restored.load_state_dict(state)
    assert all(torch.equal(restored.next_indices(), want) for want in expected)


def test_batch_larger_than_dataset_is_a_config_error():
    with pytest.raises(ConfigError, match="batch_size"):
        EpochSampler(size=4, batch_size=8, generator=_generator())


def test_shards_partition_the_global_batch():
    x, y = torch.arange(20.0)[:, None], torch.arange(20)
    sources = [make_source((x, y), 8, Shard(rank, 2), _generator()) for rank in range(2)]
    single = make_source((x, y), 8, Shard(), _generator())
    for step in range(4):
        (x0, y0), (x1, y1), (xs, ys) = (source.batch(step) for source in (*sources, single))
        assert torch.equal(torch.cat([x0, x1]), xs) and torch.equal(torch.cat([y0, y1]), ys)
        assert torch.equal(xs[:, 0].long(), ys)


def test_shard_batch_structures_and_errors():
    batch = {"a": torch.arange(6), "b": (torch.zeros(6, 2), [torch.ones(6)])}
    part = shard_batch(batch, Shard(2, 3))
    assert part["a"].tolist() == [4, 5] and part["b"][0].shape == (2, 2) and part["b"][1][0].shape == (2,)
    with pytest.raises(ValueError, match="does not split"):
        shard_batch(torch.arange(5), Shard(0, 2))
    with pytest.raises(TypeError, match="IndexedData"):
        shard_batch(object(), Shard(0, 2))
    marker = object()
    assert shard_batch(marker, Shard()) is marker


def test_indexed_data_and_batch_function_sources():
    items = [{"value": i} for i in range(12)]
    source = make_source(IndexedData(items, lambda chosen: [item["value"] for item in chosen]), 4, Shard(),
                         _generator())
    first = source.batch(0)
    assert len(set(first)) == 4 and all(0 <= v < 12 for v in first)

    def batch_fn(step: int, generator: torch.Generator) -> torch.Tensor:
        return torch.full((4,), float(step)) + torch.rand(4, generator=generator)

    function_source = make_source(batch_fn, 4, Shard(1, 2), _generator())
    state = function_source.state_dict()
    drawn = function_source.batch(3)
    assert drawn.shape == (2,) and bool((drawn >= 3).all())
    function_source.load_state_dict(state)
    assert torch.equal(function_source.batch(3), drawn)
    with pytest.raises(TypeError, match="data must be"):
        make_source([1, 2, 3], 2, Shard(), _generator())
