"""DDP helpers: one code path for a single process and for ``torchrun --nproc_per_node W``.

:func:`init_distributed` reads torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``, ``MASTER_PORT``); without it (or with ``WORLD_SIZE=1``) it returns a single-process
context and touches nothing. The backend is gloo on CPU and nccl on CUDA. Every collective below is a
no-op in a single process, so callers never branch on the world size.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from genforge.core.train.data import Shard


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits: its rank among ``world_size`` and its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes checkpoints and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group spans more than one process."""
        return self.world_size > 1

    @property
    def shard(self) -> Shard:
        """This rank's share of each global batch."""
        return Shard(self.rank, self.world_size)


def init_distributed(device: str | None = None) -> DistributedContext:
    """Join the torchrun process group described by the environment, or return a single-process context.

    Args:
        device: ``"cpu"`` or ``"cuda"``; None picks CUDA (device ``LOCAL_RANK``) when available.
    """
    use_cuda = torch.cuda.is_available() if device is None else device == "cuda"
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device("cuda", local_rank) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo", init_method="env://",
                                rank=rank, world_size=world_size)
    return DistributedContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def wrap_model(model: nn.Module, context: DistributedContext, find_unused_parameters: bool = False) -> nn.Module:
    """``model`` on the context's device, wrapped in DistributedDataParallel when distributed.

    DDP broadcasts rank 0's weights at construction and averages gradients over ranks in backward.
    ``find_unused_parameters`` is for models with parameters that some forward passes do not use; a
    parameter used outside the wrapped forward is never synchronised, whatever this flag says.
    """
    model = model.to(context.device)
    if not context.distributed:
        return model
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or ``model`` itself)."""
    return model.module if isinstance(model, DistributedDataParallel) else model


def all_reduce_mean(tensor: Tensor, context: DistributedContext) -> Tensor:
    """Mean of ``tensor`` over ranks (a new tensor; ``tensor`` itself when single-process)."""
    if not context.distributed:
        return tensor
    total = tensor.clone()
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total / context.world_size


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """True when ``flag`` is True on at least one rank."""
    if not context.distributed:
        return flag
    value = torch.tensor([float(flag)], device=context.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def gather_objects(value: object, context: DistributedContext) -> list[object]:
    """``[value of rank 0, value of rank 1, ...]`` on every rank (pickled in transit only)."""
    if not context.distributed:
        return [value]
    gathered: list[object] = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistributedContext) -> None:
    """Wait for every rank."""
    if context.distributed:
        dist.barrier()


def cleanup(*, wait: bool = False) -> None:
    """Leave the process group (if one was joined); with ``wait``, first wait for every rank, so no rank
    tears down its connections while another (rank 0 evaluating after training) still holds them."""
    if dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()
