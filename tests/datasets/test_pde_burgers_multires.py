"""Cell-centred multi-resolution Burgers data: second-order convergence, nesting of grids, determinism."""

from __future__ import annotations

import pytest
import torch

from genforge.datasets import burgers_multires
from genforge.datasets.burgers import sample_forcing, sample_u0


def _problems(num: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return sample_u0(num, generator), sample_forcing(num, generator)


def test_solver_converges_at_second_order_on_the_sample_points() -> None:
    u0, f = _problems(2, 0)
    coarse, mid, fine = (burgers_multires.solve_cell_centred(u0, f, 40, 30, p) for p in (59, 119, 239))
    ratio = (coarse - mid).norm() / (mid - fine).norm()
    assert 3.0 < ratio < 5.5, ratio                                            # 4 for second order
    assert (mid - fine).norm() / fine.norm() < 5e-3


def test_finer_time_grid_nests_the_coarser_one() -> None:
    """K = 80 samples t = (2k + 1) T / 160; K = 40 samples t = (2k + 1) T / 80: the mean of the two K = 80
    frames around a K = 40 frame approximates it to O(dt^2)."""
    u0, f = _problems(2, 1)
    k40 = burgers_multires.solve_cell_centred(u0, f, 40, 30, 119)
    k80 = burgers_multires.solve_cell_centred(u0, f, 80, 30, 119)
    assert k80.shape == (2, 80, 30)
    pair_mean = k80.view(2, 40, 2, 30).mean(2)
    assert (pair_mean - k40).norm() / k40.norm() < 2e-2


def test_bad_resolutions_are_rejected_and_generation_is_deterministic() -> None:
    u0, f = _problems(1, 2)
    with pytest.raises(ValueError, match="multiple of 40"):
        burgers_multires.solve_cell_centred(u0, f, 30, 30, 119)
    with pytest.raises(ValueError, match="multiple of 2 x points"):
        burgers_multires.solve_cell_centred(u0, f, 40, 32, 119)
    a, b = (burgers_multires.generate(2, 3, 40, 15, 59) for _ in range(2))
    assert torch.equal(a, b) and not torch.equal(a, burgers_multires.generate(2, 4, 40, 15, 59))
