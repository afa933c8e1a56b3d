"""Deterministic, resumable batches: every batch is a function of the trainer's data generator.

The trainer accepts three kinds of ``data``:

* a tensor, or a tuple of tensors sharing dim 0 (N examples): shuffled epochs without replacement
  (a fresh ``randperm`` per epoch, the last partial batch dropped); batches are tensors / tuples;
* :class:`IndexedData` ``(items, collate)``: any indexable sequence (graphs, dicts, files) and a
  function turning a list of items into a batch; sampled like tensors;
* a callable ``batch_fn(step, generator) -> batch`` drawing a global batch (synthetic data).

Under DDP every rank holds the same data generator, draws the same global batch of ``batch_size``
indices and keeps its contiguous shard ``[rank * B / W, (rank + 1) * B / W)``, so a W-rank run sees
exactly the examples of a single-process run. The position (epoch, offset, generator states) is saved
in checkpoints, so a resumed run continues with the very next batch.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genforge.core.errors import ConfigError

Batch = Any
BatchFn = Callable[[int, torch.Generator], Batch]


@dataclass(frozen=True)
class IndexedData:
    """Indexable examples plus ``collate(list_of_items) -> batch``."""

    items: Sequence[Any]
    collate: Callable[[list[Any]], Batch]


DataSpec = Tensor | tuple[Tensor, ...] | IndexedData | BatchFn


@dataclass(frozen=True)
class Shard:
    """This rank's share of a global batch: rank ``rank`` of ``world_size`` equal contiguous slices."""

    rank: int = 0
    world_size: int = 1

    def slice(self, global_size: int) -> slice:
        """Slice of a global batch of ``global_size`` (divisible by ``world_size``) kept by this rank."""
        if global_size % self.world_size:
            raise ValueError(f"a global batch of {global_size} does not split over {self.world_size} ranks")
        per_rank = global_size // self.world_size
        return slice(self.rank * per_rank, (self.rank + 1) * per_rank)


def shard_batch(batch: Batch, shard: Shard) -> Batch:
    """This rank's part of a global batch: tensors (dim 0), and tuples, lists, dicts of them."""
    if shard.world_size == 1:
        return batch
    if isinstance(batch, Tensor):
        return batch[shard.slice(batch.shape[0])]
    if isinstance(batch, (tuple, list)):
        return type(batch)(shard_batch(item, shard) for item in batch)
    if isinstance(batch, dict):
        return {key: shard_batch(item, shard) for key, item in batch.items()}
    raise TypeError(f"cannot shard a {type(batch).__name__} batch over ranks; "
                    "pass IndexedData(items, collate) instead")


class EpochSampler:
    """Global batches of example indices: a new permutation each epoch, no replacement, drop last."""

    def __init__(self, size: int, batch_size: int, generator: torch.Generator):
        if size < batch_size:
            raise ConfigError(f"must be <= the number of training examples ({size}), got {batch_size}",
                              field="batch_size")
        self.size = size
        self.batch_size = batch_size
        self.generator = generator
        self.epoch = -1
        self.position = 0
        self.permutation: Tensor | None = None
        self.epoch_start_state: Tensor | None = None

    def _start_epoch(self) -> None:
        self.epoch_start_state = self.generator.get_state()
        self.permutation = torch.randperm(self.size, generator=self.generator)
        self.epoch += 1
        self.position = 0

    def next_indices(self) -> Tensor:
        """Indices ``[batch_size]`` (int64) of the next global batch."""
        if self.permutation is None or self.position + self.batch_size > self.size:
            self._start_epoch()
        indices = self.permutation[self.position:self.position + self.batch_size]
        self.position += self.batch_size
        return indices

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "position": self.position, "generator": self.generator.get_state(),
                "epoch_start_state": self.epoch_start_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.permutation = None
        if state["epoch_start_state"] is not None:
            self.generator.set_state(state["epoch_start_state"])
            self._start_epoch()
        self.generator.set_state(state["generator"])
        self.epoch, self.position = state["epoch"], state["position"]


class DataSource(ABC):
    """Yields this rank's batch for each step and saves / restores its position."""

    @abstractmethod
    def batch(self, step: int) -> Batch:
        """This rank's shard of the global batch for ``step``."""

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Position, as tensors and numbers."""

    @abstractmethod
    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict`."""


class _SampledSource(DataSource):
    """Examples picked by an :class:`EpochSampler`; ``take(indices)`` builds the batch."""

    def __init__(self, size: int, take: Callable[[Tensor], Batch], batch_size: int, shard: Shard,
                 generator: torch.Generator):
        self.sampler = EpochSampler(size, batch_size, generator)
        self.take = take
        self.shard = shard

    def batch(self, step: int) -> Batch:
        return self.take(self.sampler.next_indices()[self.shard.slice(self.sampler.batch_size)])

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state)


class _FunctionSource(DataSource):
    """Global batches from ``batch_fn(step, generator)``, sharded with :func:`shard_batch`."""

    def __init__(self, batch_fn: BatchFn, shard: Shard, generator: torch.Generator):
        self.batch_fn = batch_fn
        self.shard = shard
        self.generator = generator

    def batch(self, step: int) -> Batch:
        return shard_batch(self.batch_fn(step, self.generator), self.shard)

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])


def make_source(data: DataSpec, batch_size: int, shard: Shard, generator: torch.Generator) -> DataSource:
    """The :class:`DataSource` for any accepted kind of ``data`` (see the module docstring)."""
    if isinstance(data, Tensor):
        return _SampledSource(data.shape[0], lambda idx: data[idx.to(data.device)], batch_size, shard,
                              generator)
    if isinstance(data, tuple) and data and all(isinstance(item, Tensor) for item in data):
        sizes = {item.shape[0] for item in data}
        if len(sizes) != 1:
            raise ValueError(f"data tensors must share dim 0, got sizes {sorted(sizes)}")
        return _SampledSource(sizes.pop(), lambda idx: tuple(item[idx.to(item.device)] for item in data),
                              batch_size, shard, generator)
    if isinstance(data, IndexedData):
        return _SampledSource(len(data.items),
                              lambda idx: data.collate([data.items[i] for i in idx.tolist()]),
                              batch_size, shard, generator)
    if callable(data):
        return _FunctionSource(data, shard, generator)
    raise TypeError(f"data must be a tensor, a tuple of tensors, IndexedData or batch_fn(step, generator), "
                    f"got {type(data).__name__}")
