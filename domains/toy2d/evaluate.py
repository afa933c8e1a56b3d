"""Sample-quality metrics and baselines for the 2-D demo: how close are samples to held-out data?"""

from __future__ import annotations

import torch
from torch import Tensor

from genforge.core.metrics.distributions import knn_precision_recall, mmd2_rbf, sliced_wasserstein

BANDWIDTHS = (0.1, 0.3, 1.0, 3.0)
"""Fixed MMD kernel bandwidths, so every candidate is scored with the same kernel."""


def sample_scores(samples: Tensor, reference: Tensor, generator: torch.Generator) -> dict[str, float]:
    """Sliced W2 and RBF-MMD of ``samples [n, 2]`` to ``reference [m, 2]`` (lower is better) and k-NN
    precision / recall (higher is better; they see blurred edges that W2 and MMD average away)."""
    precision, recall = knn_precision_recall(samples, reference, k=3)
    return {
        "sliced_w2": float(sliced_wasserstein(samples, reference, generator, num_projections=256)),
        "mmd2": float(mmd2_rbf(samples, reference, BANDWIDTHS)),
        "precision": precision,
        "recall": recall,
    }


def gaussian_fit_baseline(train: Tensor, num: int, generator: torch.Generator) -> Tensor:
    """Samples of the Gaussian with the training set's mean and covariance (the trivial density model)."""
    mean = train.mean(0)
    cov = torch.cov(train.T)
    chol = torch.linalg.cholesky(cov + 1e-6 * torch.eye(train.shape[1]))
    return mean + torch.randn(num, train.shape[1], generator=generator) @ chol.T
