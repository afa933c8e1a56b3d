"""Noising processes between data (t = 0) and a prior (t = 1), all behind the :class:`Process` interface."""

from genforge.core.processes.base import Process
from genforge.core.processes.bfn import ContinuousBFN, DiscreteBFN
from genforge.core.processes.com import CoMFreeGaussian
from genforge.core.processes.gaussian import EDM, VE, GaussianPath, VPCosine, VPLinear
from genforge.core.processes.interpolants import LinearInterpolant, TrigInterpolant
from genforge.core.processes.periodic import VonMisesBFN, WrappedNormalTorus
from genforge.core.processes.stochastic import StochasticInterpolant

__all__ = [
    "EDM",
    "VE",
    "CoMFreeGaussian",
    "ContinuousBFN",
    "DiscreteBFN",
    "GaussianPath",
    "LinearInterpolant",
    "Process",
    "StochasticInterpolant",
    "TrigInterpolant",
    "VPCosine",
    "VPLinear",
    "VonMisesBFN",
    "WrappedNormalTorus",
]
