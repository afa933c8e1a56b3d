r"""Classifier-free guidance (Ho & Salimans 2022, "Classifier-Free Diffusion Guidance", Eq. 6).

Scale convention: :math:`\hat\varepsilon_w = \hat\varepsilon_u + w(\hat\varepsilon_c - \hat\varepsilon_u)`,
so w = 1 is the conditional model, w = 0 the unconditional one (the paper's ``1 + w`` is our w).
At a fixed x_t every parametrisation is affine in (x0, eps) with weights summing to one, so the same
combination is applied to x0_hat and the guided pair keeps
:math:`x_t = \alpha \hat x_0 + \sigma \hat\varepsilon`.

``interval=(t_lo, t_hi)`` applies the guidance only for t in that closed range and the conditional model
elsewhere (Kynkäänniemi et al. 2024, "Applying Guidance in a Limited Interval ...").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor

from genforge.core.denoiser import Denoiser, DenoiserWrapper, ModelDenoiser
from genforge.core.processes.base import expand_like


@dataclass
class ClassifierFreeGuidance(DenoiserWrapper):
    """Guided denoiser ``uncond + scale * (inner - uncond)`` (see module docstring).

    Args:
        inner: the conditional denoiser.
        uncond: the unconditional denoiser (same process).
        scale: guidance scale w (1 = conditional).
        interval: ``(t_lo, t_hi)`` where guidance applies, or None for every t.
    """

    uncond: Denoiser
    scale: float
    interval: tuple[float, float] | None = None

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        weight = torch.full_like(t, self.scale, dtype=x_t.dtype)
        if self.interval is not None:
            inside = (t >= self.interval[0]) & (t <= self.interval[1])
            if not bool(inside.any()):
                return self.inner.x0_eps(x_t, t)
            weight = torch.where(inside, weight, torch.ones_like(weight))
        (x0_c, eps_c), (x0_u, eps_u) = self._both(x_t, t)
        weight = expand_like(weight, x_t)
        return x0_u + weight * (x0_c - x0_u), eps_u + weight * (eps_c - eps_u)

    def _both(self, x_t: Tensor, t: Tensor) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
        """Conditional and unconditional estimates, in one model call when the two can share a batch."""
        cond, uncond, batch = self.inner, self.uncond, x_t.shape[0]
        if (isinstance(cond, ModelDenoiser) and isinstance(uncond, ModelDenoiser)
                and _shares_batch(cond, uncond, batch)):
            joint = replace(cond, cond=torch.cat([cond.cond, uncond.cond]))
            x0, eps = joint.x0_eps(torch.cat([x_t, x_t]), torch.cat([t, t]))
            return (x0[:batch], eps[:batch]), (x0[batch:], eps[batch:])
        return cond.x0_eps(x_t, t), uncond.x0_eps(x_t, t)


def _shares_batch(cond: ModelDenoiser, uncond: ModelDenoiser, batch: int) -> bool:
    """Same network, process and output kind, with per-sample tensor conditions ``[batch, ...]`` alike."""
    kinds = (cond.prediction or cond.process.prediction, uncond.prediction or uncond.process.prediction)
    same_net = cond.model is uncond.model and cond.process == uncond.process and kinds[0] == kinds[1]
    c, u = cond.cond, uncond.cond
    return (same_net and isinstance(c, Tensor) and isinstance(u, Tensor) and c.shape == u.shape
            and c.dim() > 0 and c.shape[0] == batch)


def cfg(denoiser: Denoiser, scale: float, *, null_cond: Any = None, uncond: Denoiser | None = None,
        interval: tuple[float, float] | None = None) -> ClassifierFreeGuidance:
    """Classifier-free guidance of ``denoiser`` with scale w (1 = conditional, 0 = unconditional).

    Args:
        denoiser: the conditional denoiser.
        scale: w in eps_u + w (eps_c - eps_u).
        null_cond: the null condition; the unconditional branch is ``denoiser`` (a ModelDenoiser) with its
            ``cond`` replaced by it. Tensor conditions with a leading batch dimension ``[B, ...]`` are
            evaluated in one model call with the conditional branch.
        uncond: any unconditional denoiser instead of ``null_cond``.
        interval: ``(t_lo, t_hi)``: guide only there, conditional elsewhere.
    """
    if uncond is None:
        if not isinstance(denoiser, ModelDenoiser):
            raise TypeError("cfg needs `uncond=` unless the denoiser is a ModelDenoiser (cond replaced)")
        uncond = replace(denoiser, cond=null_cond)
    elif null_cond is not None:
        raise ValueError("give either `null_cond` or `uncond`, not both")
    if uncond.process != denoiser.process:
        raise ValueError("the conditional and unconditional denoisers must share one process")
    return ClassifierFreeGuidance(denoiser, uncond, scale, interval)
