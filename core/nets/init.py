"""Deterministic network construction without touching the global random state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Build modules inside ``with seeded(seed):`` for reproducible initial weights.

    Module constructors draw from torch's global CPU generator; this forks it, seeds the fork and restores
    the caller's state on exit, so construction is deterministic and leaves no trace on other code.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
