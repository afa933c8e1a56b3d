"""Every solver at 50 NFE samples the 2-D eight-Gaussians mixture (exact scores) as well as exact draws."""

from __future__ import annotations

import pytest
import torch
from _solver_toys import PATHS, exact, gaussian_rbf_mmd2, prior_sample

from genforge.core import grids
from genforge.core.solvers import SOLVERS
from genforge.core.toy import eight_gaussians_mixture

STEPS_AT_50_NFE = {"heun": 25, "predictor_corrector": 25}
BANDWIDTH = 0.5
THRESHOLD = 0.006
"""Biased MMD^2 of 1000 vs 1000 points; two independent exact draws give 0.0024, the prior 0.135."""


@pytest.mark.parametrize("path", ["linear", "vp_linear"])
@pytest.mark.parametrize("name", sorted(SOLVERS))
def test_mmd_to_exact_samples_at_50_nfe(name: str, path: str) -> None:
    process = PATHS[path]
    mixture = eight_gaussians_mixture()
    x_init = prior_sample(process, 1000, seed=7)
    target = mixture.sample(1000, torch.Generator().manual_seed(8))
    grid = grids.log_snr(STEPS_AT_50_NFE.get(name, 50), process)
    samples = SOLVERS[name](exact(mixture, process), x_init, grid, generator=torch.Generator().manual_seed(0))
    assert gaussian_rbf_mmd2(samples, target, BANDWIDTH) < THRESHOLD
    assert gaussian_rbf_mmd2(x_init, target, BANDWIDTH) > 10 * THRESHOLD
