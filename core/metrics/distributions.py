r"""Distances between two samples ``x`` ``[N, D]`` and ``y`` ``[M, D]`` (1-D samples may be ``[N]``).

* Wasserstein-p in 1-D, exact: between empirical measures
  :math:`W_p^p = \int_0^1 |F^{-1}(u) - G^{-1}(u)|^p\,du` (Villani 2003, Thm. 2.18 / remark 2.19), computed
  on the merged breakpoints :math:`\{i/N\} \cup \{j/M\}` where both quantile functions are constant.
* Wasserstein-p in N-D, exact for small samples: the optimal transport linear programme with cost
  :math:`\|x_i - y_j\|^p` and uniform weights, solved by POT's network simplex (``ot.emd2``).
* Sliced Wasserstein (Rabin et al. 2011; Bonneel et al. 2015, eq. 1):
  :math:`SW_p^p = E_{\theta \sim U(S^{D-1})} W_p^p(\theta^\top x, \theta^\top y)`, by Monte Carlo.
* MMD with a sum of RBF kernels :math:`k(a, b) = \sum_h \exp(-\|a - b\|^2 / 2h^2)`: the unbiased
  estimate of :math:`\mathrm{MMD}^2` (Gretton et al. 2012, JMLR, Lemma 6, eq. 3) or the biased V-statistic.
* Energy distance (Szekely & Rizzo 2013, eq. 1), V-statistic
  :math:`\mathcal E = 2 E\|X - Y\| - E\|X - X'\| - E\|Y - Y'\|`; returned as :math:`\sqrt{\mathcal E}`,
  as ``scipy.stats.energy_distance`` (in 1-D, :math:`\mathcal E = 2\int (F_N - G_M)^2`).
* k-NN precision and recall (Kynkaanniemi et al. 2019, eq. 1-2): the fraction of generated points inside
  the union of real points' k-NN balls (fidelity), and of real points inside the generated points' balls
  (coverage). Distances such as W2 or MMD average over the support and barely see blurred edges; these see them.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

MEDIAN_BANDWIDTH_FACTORS = (0.5, 1.0, 2.0)


def _as_points(x: Tensor) -> Tensor:
    """``[N]`` -> ``[N, 1]``; ``[N, D]`` unchanged."""
    if x.dim() == 1:
        return x[:, None]
    if x.dim() != 2:
        raise ValueError(f"expected samples [N] or [N, D], got shape {tuple(x.shape)}")
    return x


def _distances(a: Tensor, b: Tensor) -> Tensor:
    """Euclidean distances ``[N, M]`` from differences (not the cancellation-prone Gram-matrix form)."""
    return torch.cdist(a, b, compute_mode="donot_use_mm_for_euclid_dist")


def _quantile_cost(x: Tensor, y: Tensor, p: float) -> Tensor:
    """Exact :math:`W_p^p` ``[K]`` between the columns of ``x`` ``[N, K]`` and ``y`` ``[M, K]``."""
    sorted_x, sorted_y = x.sort(dim=0).values, y.sort(dim=0).values
    n, m = x.shape[0], y.shape[0]
    if n == m:
        return (sorted_x - sorted_y).abs().pow(p).mean(0)
    dtype = torch.promote_types(x.dtype, torch.float64)
    levels = torch.cat([torch.arange(1, n + 1, dtype=dtype, device=x.device) / n,
                        torch.arange(1, m + 1, dtype=dtype, device=x.device) / m]).sort().values
    widths = torch.diff(levels, prepend=levels.new_zeros(1))
    middles = levels - widths / 2
    index_x = (torch.ceil(middles * n) - 1).clamp(0, n - 1).long()
    index_y = (torch.ceil(middles * m) - 1).clamp(0, m - 1).long()
    gaps = (sorted_x[index_x] - sorted_y[index_y]).abs().to(dtype).pow(p)
    return (widths[:, None] * gaps).sum(0).to(x.dtype)


def wasserstein_1d(x: Tensor, y: Tensor, p: float = 1.0) -> Tensor:
    """Exact :math:`W_p` (scalar) between 1-D samples ``x`` ``[N]`` and ``y`` ``[M]``."""
    if x.dim() != 1 or y.dim() != 1:
        raise ValueError(f"expected 1-D samples, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    return _quantile_cost(x[:, None], y[:, None], p)[0].pow(1.0 / p)


def wasserstein(x: Tensor, y: Tensor, p: float = 1.0) -> Tensor:
    """Exact :math:`W_p` (scalar, float64) between samples ``[N, D]`` and ``[M, D]`` via ``ot.emd2``.

    Cost O(N M) memory and roughly cubic time: meant for N, M up to a few thousand.
    """
    import ot

    x, y = _as_points(x).detach().double(), _as_points(y).detach().double()
    cost = _distances(x, y).pow(p)
    weights_x = torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=torch.float64, device=x.device)
    weights_y = torch.full((y.shape[0],), 1.0 / y.shape[0], dtype=torch.float64, device=y.device)
    transport_cost = torch.as_tensor(ot.emd2(weights_x, weights_y, cost, numItermax=1_000_000))
    return transport_cost.clamp_min(0).pow(1.0 / p)


def sliced_wasserstein(x: Tensor, y: Tensor, generator: torch.Generator, num_projections: int = 256,
                       p: float = 2.0) -> Tensor:
    """Monte-Carlo sliced :math:`SW_p` (scalar) with ``num_projections`` uniform directions."""
    x, y = _as_points(x), _as_points(y)
    directions = torch.randn(x.shape[1], num_projections, generator=generator, dtype=x.dtype)
    directions = directions.to(x.device) / directions.norm(dim=0, keepdim=True)
    return _quantile_cost(x @ directions, y @ directions, p).mean().pow(1.0 / p)


def median_bandwidths(x: Tensor, y: Tensor,
                      factors: Sequence[float] = MEDIAN_BANDWIDTH_FACTORS) -> list[float]:
    """RBF bandwidths: ``factors`` times the median pairwise distance of the pooled sample."""
    pooled = torch.cat([_as_points(x), _as_points(y)])
    distances = torch.pdist(pooled)
    return [float(factor * distances.median()) for factor in factors]


def _rbf(a: Tensor, b: Tensor, bandwidths: Sequence[float]) -> Tensor:
    """Sum of RBF kernels ``[N, M]``."""
    squared = _distances(a, b).square()
    return sum(torch.exp(-squared / (2.0 * h ** 2)) for h in bandwidths)


def mmd2_rbf(x: Tensor, y: Tensor, bandwidths: Sequence[float] | None = None,
             unbiased: bool = True) -> Tensor:
    """Squared MMD (scalar) with a sum of RBF kernels; None: :func:`median_bandwidths`.

    The unbiased estimate drops the diagonal terms and can be slightly negative when x and y share a law.
    """
    x, y = _as_points(x), _as_points(y)
    bandwidths = median_bandwidths(x, y) if bandwidths is None else bandwidths
    kxx, kyy, kxy = _rbf(x, x, bandwidths), _rbf(y, y, bandwidths), _rbf(x, y, bandwidths)
    n, m = x.shape[0], y.shape[0]
    if not unbiased:
        return kxx.mean() + kyy.mean() - 2.0 * kxy.mean()
    within_x = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    within_y = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return within_x + within_y - 2.0 * kxy.mean()


def energy_distance(x: Tensor, y: Tensor) -> Tensor:
    """Energy distance :math:`\\sqrt{\\mathcal E}` (scalar) between the empirical laws of ``x`` and ``y``."""
    x, y = _as_points(x), _as_points(y)
    energy = 2.0 * _distances(x, y).mean() - _distances(x, x).mean() - _distances(y, y).mean()
    return energy.clamp_min(0).sqrt()


def _knn_radii(points: Tensor, k: int) -> Tensor:
    """Distance ``[N]`` of every point to its k-th nearest other point."""
    return _distances(points, points).kthvalue(k + 1, dim=1).values


def knn_precision_recall(generated: Tensor, real: Tensor, k: int = 3) -> tuple[float, float]:
    """(precision, recall) in [0, 1] of ``generated [N, D]`` against ``real [M, D]`` with k-NN balls."""
    generated, real = _as_points(generated), _as_points(real)
    cross = _distances(generated, real)
    precision = (cross <= _knn_radii(real, k)[None, :]).any(dim=1).float().mean()
    recall = (cross <= _knn_radii(generated, k)[:, None]).any(dim=0).float().mean()
    return float(precision), float(recall)
