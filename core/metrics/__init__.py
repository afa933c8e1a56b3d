"""Metrics: image / volume quality (PSNR, SSIM, per-axis) and distances between samples (W_p, MMD, energy)."""

from genforge.core.metrics.distributions import (
    energy_distance,
    knn_precision_recall,
    median_bandwidths,
    mmd2_rbf,
    sliced_wasserstein,
    wasserstein,
    wasserstein_1d,
)
from genforge.core.metrics.image import gaussian_window, per_axis, psnr, ssim

__all__ = ["energy_distance", "gaussian_window", "knn_precision_recall", "median_bandwidths", "mmd2_rbf",
           "per_axis", "psnr", "sliced_wasserstein", "ssim", "wasserstein", "wasserstein_1d"]
