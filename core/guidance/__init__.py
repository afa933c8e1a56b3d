"""Guidance: wrappers that take a denoiser and return one (so they compose), and the RED-diff optimiser.

``dps(cfg(den, scale=2.0, null_cond=null), operator, y, zeta)`` guides a classifier-free-guided model
with measurements; ``inpaint`` conditions on known entries; ``objective_guidance`` on a user cost.
"""

from genforge.core.guidance.cfg import ClassifierFreeGuidance, cfg
from genforge.core.guidance.dps import ResidualNorm, dps, forward_operator
from genforge.core.guidance.objective import ObjectiveGuidance, objective_guidance, x0_eps_and_grad
from genforge.core.guidance.red_diff import red_diff
from genforge.core.guidance.replace import Inpainting, inpaint, replace_step

__all__ = [
    "ClassifierFreeGuidance",
    "Inpainting",
    "ObjectiveGuidance",
    "ResidualNorm",
    "cfg",
    "dps",
    "forward_operator",
    "inpaint",
    "objective_guidance",
    "red_diff",
    "replace_step",
    "x0_eps_and_grad",
]
