"""Time grids for sampling: descending float64 tensors from t_max (prior side) to 0 (data).

A grid of ``n`` steps has ``n + 1`` points and always ends exactly at t = 0.
"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.processes.gaussian import GaussianPath


def uniform(n: int, t_max: float = 1.0) -> Tensor:
    """Equally spaced times t_max -> 0 (``n`` steps)."""
    return torch.linspace(t_max, 0.0, n + 1, dtype=torch.float64)


def quadratic(n: int, t_max: float = 1.0) -> Tensor:
    """Times t_i = t_max (i / n)^2, denser near the data (``n`` steps)."""
    return t_max * torch.linspace(1.0, 0.0, n + 1, dtype=torch.float64).square()


def _ratio_bounds(process: GaussianPath, t_min: float, t_max: float,
                  ratio_cap: float) -> tuple[float, float]:
    ends = torch.tensor([t_min, t_max], dtype=torch.float64)
    ratio = (process.sigma(ends) / process.alpha(ends)).clamp(max=ratio_cap)
    return float(ratio[0]), float(ratio[1])


def _t_from_ratio(process: GaussianPath, ratio: Tensor) -> Tensor:
    return process.t_from_log_snr(-2.0 * torch.log(ratio))


def karras(n: int, process: GaussianPath, rho: float = 7.0, t_min: float = 1e-3, t_max: float = 1.0,
           ratio_cap: float = 80.0) -> Tensor:
    """Karras et al. (2022) rho-spacing of the noise ratio sigma/alpha, then t = 0 appended.

    ``n - 1`` steps between t_max and t_min plus the final step to 0 (``n`` steps in all). For paths
    with alpha(1) = 0 the ratio at t_max is capped at ``ratio_cap``.
    """
    lo, hi = _ratio_bounds(process, t_min, t_max, ratio_cap)
    ramp = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    ratios = (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    t = _t_from_ratio(process, ratios)
    t[0] = min(t_max, float(t[0]))
    return torch.cat([t, torch.zeros(1, dtype=torch.float64)])


def log_snr(n: int, process: GaussianPath, t_min: float = 1e-3, t_max: float = 1.0,
            ratio_cap: float = 80.0) -> Tensor:
    """Uniform in log-SNR between t_max and t_min (``n - 1`` steps), then the step to t = 0."""
    lo, hi = _ratio_bounds(process, t_min, t_max, ratio_cap)
    lam = torch.linspace(-2.0 * torch.log(torch.tensor(hi, dtype=torch.float64)).item(),
                         -2.0 * torch.log(torch.tensor(lo, dtype=torch.float64)).item(), n,
                         dtype=torch.float64)
    t = process.t_from_log_snr(lam)
    return torch.cat([t, torch.zeros(1, dtype=torch.float64)])


GRIDS = {"uniform": uniform, "quadratic": quadratic, "karras": karras, "log_snr": log_snr}
