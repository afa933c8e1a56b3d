"""The denoiser: a trained network bound to its Gaussian path, seen through every parametrisation.

Solvers and guidance wrappers talk to a :class:`Denoiser`; guidance wrappers take a denoiser and
return one, so they compose (``dps(cfg(den, scale=2.0), operator, y, zeta)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from genforge.core.parametrization import from_x0_eps, to_x0_eps
from genforge.core.processes.gaussian import GaussianPath

ModelFn = Callable[[Tensor, Tensor, Any], Tensor]
"""``model(x_t [B, ...], t [B], cond) -> prediction [B, ...]`` of a fixed kind."""


class Denoiser(ABC):
    """Anything that maps (x_t, t) to estimates of the clean data and the noise.

    Attributes:
        process: the Gaussian path x_t = alpha(t) x0 + sigma(t) eps the estimates refer to.
    """

    process: GaussianPath

    @abstractmethod
    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        """Estimates (x0_hat, eps_hat), each shaped like ``x_t``; ``t`` is ``[B]``."""

    def predict(self, kind: str, x_t: Tensor, t: Tensor) -> Tensor:
        """The estimate in any parametrisation (eps, x0, v, score, velocity)."""
        x0, eps = self.x0_eps(x_t, t)
        return from_x0_eps(kind, x0, eps, *self.process.coefficients(t, x_t))

    def x0(self, x_t: Tensor, t: Tensor) -> Tensor:
        """E[x0 | x_t]."""
        return self.x0_eps(x_t, t)[0]

    def velocity(self, x_t: Tensor, t: Tensor) -> Tensor:
        """Probability-flow ODE drift dx/dt = alpha' x0_hat + sigma' eps_hat."""
        return self.predict("velocity", x_t, t)

    def score(self, x_t: Tensor, t: Tensor) -> Tensor:
        """grad_x log p_t(x_t) = -eps_hat / sigma."""
        return self.predict("score", x_t, t)


@dataclass
class ModelDenoiser(Denoiser):
    """A network bound to its process, prediction kind and conditioning.

    Args:
        model: ``model(x_t, t, cond)`` returning a prediction of kind ``prediction``.
        process: the Gaussian path the model was trained on.
        prediction: the model's output kind; defaults to ``process.prediction``.
        cond: conditioning passed through to the model (None for unconditional).
    """

    model: ModelFn
    process: GaussianPath
    prediction: str | None = None
    cond: Any = field(default=None)

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        kind = self.prediction or self.process.prediction
        pred = self.model(x_t, t, self.cond)
        return to_x0_eps(kind, pred, x_t, *self.process.coefficients(t, x_t))


@dataclass
class DenoiserWrapper(Denoiser):
    """Base for wrappers (guidance): holds the inner denoiser and shares its process."""

    inner: Denoiser

    @property
    def process(self) -> GaussianPath:  # type: ignore[override]
        return self.inner.process

    def x0_eps(self, x_t: Tensor, t: Tensor) -> tuple[Tensor, Tensor]:
        return self.inner.x0_eps(x_t, t)
