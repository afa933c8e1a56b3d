r"""Any Gaussian path on molecular positions with centre-of-mass-free noise (Hoogeboom et al. 2022).

Positions of a graph batch live in the subspace where every graph's centre of mass is zero. With CoM-free
data ``x0`` and CoM-free noise, :math:`x_t = \alpha x_0 + \sigma\varepsilon` stays in that subspace, the
noise is an isotropic Gaussian of (n - 1) * 3 dimensions per graph, and the model is translation invariant.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from genforge.core.geometry.com import (
    com_free_gaussian_log_prob,
    com_free_noise,
    graph_mean,
    remove_com,
)
from genforge.core.processes.base import Process
from genforge.core.processes.gaussian import GaussianPath


def _batch_index(batch: Tensor | None, num_nodes: int, device: torch.device | str | None) -> Tensor:
    return torch.zeros(num_nodes, dtype=torch.long, device=device) if batch is None else batch


@dataclass(frozen=True)
class CoMFreeGaussian(Process):
    """Wraps a Gaussian path so that noise and prior are CoM-free per graph.

    Data are positions ``[N, D]`` (Angstrom) with a batch index ``batch [N]`` passed by keyword; without it
    all nodes form one graph. Times are per node (``t[batch]``), as for every per-node process. For
    sampling, bind the network to ``self.path`` (a :class:`GaussianPath`) and start from ``self.prior``.

    Args:
        path: the Gaussian path (alpha, sigma, prediction kind) applied to the positions.
    """

    path: GaussianPath

    def sample_time(self, batch: int, generator: torch.Generator | None = None, *,
                    device: torch.device | str | None = None) -> Tensor:
        """The wrapped path's training times, one per graph ``[B]`` (gather ``t[batch]`` for the nodes)."""
        return self.path.sample_time(batch, generator, device=device)

    def prior(self, shape: torch.Size | tuple[int, ...], generator: torch.Generator | None = None, *,
              device: torch.device | str | None = None, dtype: torch.dtype = torch.float32,
              batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """sigma(1) times CoM-free standard noise, ``shape = (N, D)``."""
        batch = _batch_index(batch, shape[0], device)
        sigma_1 = float(self.path.sigma(torch.ones((), dtype=torch.float64)))
        return sigma_1 * com_free_noise(batch, num_graphs, generator, dim=shape[1], dtype=dtype)

    def sample_noise(self, x0: Tensor, generator: torch.Generator | None = None, *,
                     batch: Tensor | None = None, num_graphs: int | None = None) -> Tensor:
        """CoM-free standard Gaussian noise shaped like ``x0 [N, D]``."""
        batch = _batch_index(batch, x0.shape[0], x0.device)
        return com_free_noise(batch, num_graphs, generator, dim=x0.shape[1], dtype=x0.dtype)

    def corrupt(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = alpha(t) x0 + sigma(t) noise; ``x0`` should be CoM-free (see :func:`remove_com`)."""
        return self.path.corrupt(x0, t, noise)

    def target(self, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
        """The wrapped path's target (CoM-free whenever ``x0`` and ``noise`` are)."""
        return self.path.target(x0, noise, t)

    def loss(self, pred: Tensor, x0: Tensor, noise: Tensor, t: Tensor, *, batch: Tensor | None = None,
             num_graphs: int | None = None) -> Tensor:
        """Per-graph mean squared error ``[B]`` after projecting ``pred`` onto the CoM-free subspace.

        The component of ``pred`` along a graph's centre of mass is not identifiable from CoM-free data,
        so it is removed rather than penalised (as EDM's network output is).
        """
        batch = _batch_index(batch, x0.shape[0], x0.device)
        error = (remove_com(pred, batch, num_graphs) - self.target(x0, noise, t)).square().mean(dim=-1)
        return graph_mean(error, batch, num_graphs)

    def prior_log_prob(self, x: Tensor, *, batch: Tensor | None = None,
                       num_graphs: int | None = None) -> Tensor:
        """Log-density ``[B]`` of CoM-free ``x [N, D]`` under the prior, with (n - 1) D degrees of freedom."""
        batch = _batch_index(batch, x.shape[0], x.device)
        sigma_1 = float(self.path.sigma(torch.ones((), dtype=torch.float64)))
        return com_free_gaussian_log_prob(x, batch, num_graphs, sigma_1)
