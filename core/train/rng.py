"""Random-generator states as tensors and plain numbers, so checkpoints load with ``weights_only=True``."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def python_state() -> dict[str, Any]:
    """``random.getstate()`` as ``{"version", "state" (int64 [625]), "gauss_next"}``."""
    version, state, gauss_next = random.getstate()
    return {"version": version, "state": torch.tensor(state, dtype=torch.int64), "gauss_next": gauss_next}


def set_python_state(saved: dict[str, Any]) -> None:
    """Inverse of :func:`python_state`."""
    random.setstate((saved["version"], tuple(saved["state"].tolist()), saved["gauss_next"]))


def numpy_state() -> dict[str, Any]:
    """``np.random.get_state()`` (MT19937) as tensors and numbers."""
    name, keys, position, has_gauss, cached = np.random.get_state()
    return {"name": str(name), "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
            "has_gauss": int(has_gauss), "cached_gaussian": float(cached)}


def set_numpy_state(saved: dict[str, Any]) -> None:
    """Inverse of :func:`numpy_state`."""
    keys = saved["keys"].numpy().astype(np.uint32)
    np.random.set_state(
        (saved["name"], keys, saved["position"], saved["has_gauss"], saved["cached_gaussian"]))


def capture(loss_generator: torch.Generator) -> dict[str, Any]:
    """This process's generator states: torch CPU (and CUDA), the trainer's loss generator, python, numpy."""
    state = {"torch_cpu": torch.get_rng_state(), "loss_generator": loss_generator.get_state(),
             "python": python_state(), "numpy": numpy_state()}
    if loss_generator.device.type == "cuda":
        state["torch_cuda"] = torch.cuda.get_rng_state(loss_generator.device)
    return state


def restore(state: dict[str, Any], loss_generator: torch.Generator) -> None:
    """Inverse of :func:`capture`."""
    torch.set_rng_state(state["torch_cpu"])
    loss_generator.set_state(state["loss_generator"])
    set_python_state(state["python"])
    set_numpy_state(state["numpy"])
    if "torch_cuda" in state:
        torch.cuda.set_rng_state(state["torch_cuda"], loss_generator.device)


def derived_seed(*entropy: int) -> int:
    """A 63-bit seed from integers (e.g. ``(seed, rank, stream)``) via numpy's SeedSequence hashing."""
    return int(np.random.SeedSequence(list(entropy)).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))
