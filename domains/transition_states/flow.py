r"""Conditional flow matching from (R, P) to the TS: the TS-GEN-style and React-OT-style variants.

Both use one path, core's linear interpolant on centre-of-mass-free positions with an x0-predicting
network (:class:`~genforge.domains.transition_states.model.TsFlowNet`):

    x_t = (1 - t) TS + t x_1,    t = 0 the TS, t = 1 the source x_1,

and differ only in the source x_1 (the "noise" of the process):

* ``tsgen`` (TS-GEN-like, Tuo, Chen & Li 2025): x_1 ~ CoM-free N(0, I) (Angstrom), the network conditioned
  on R and P; sampling integrates the ODE from fresh noise in a few steps.
* ``reactot`` (React-OT-like, Duan et al. 2025): sampling starts at x_1 = M = (R + P*) / 2, the midpoint of the
  reactant and the product superposed onto it, with no noise: a deterministic bridge from the aligned
  interpolation to the TS, one ODE solve of a few steps, the same output for the same input. In training the
  source is M plus Gaussian jitter (``source_jitter``); with x_1 = M exactly, x_t = (1 - t) TS + t M reveals
  the TS as (x_t - t M) / (1 - t) at every t < 1 and the network learns that inversion instead of the TS
  (React-OT starts from stochastic OA-ReactDiff guesses, which the network cannot recompute either).

Both can be trained with a variance term (``noise_invariance``), TS-GEN's device for collapsing the flow onto
one TS (its term compares predicted velocities, this one predicted TSs): each reaction is seen with two source
draws at the same t and the mean squared difference of the two predicted TSs is penalised.
The TS is (nearly) a function of (R, P), so the ideal x0 prediction does not depend on the source draw; an
under-trained network instead follows x_t at intermediate t, and more ODE steps then move the sample away from
its one-step regression of E[TS | R, P].

Frames: the reactant is centred (CoM 0), the product Kabsch-superposed onto it, the reference TS (training
only) superposed onto their midpoint. Generated TSs are returned in the reactant's input frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor, nn

from genforge.core import grids
from genforge.core.denoiser import ModelDenoiser
from genforge.core.geometry.com import graph_mean, remove_com
from genforge.core.geometry.kabsch import superpose
from genforge.core.processes.com import CoMFreeGaussian
from genforge.core.processes.interpolants import LinearInterpolant
from genforge.core.solvers import SOLVERS
from genforge.datasets.rdb7 import ReactionBatch
from genforge.domains.transition_states.model import ReactionCondition

LossOutput = tuple[Tensor, dict[str, Tensor]]
Variant = Literal["tsgen", "reactot"]
VARIANTS: tuple[Variant, ...] = ("tsgen", "reactot")
PATH = CoMFreeGaussian(LinearInterpolant(prediction="x0"))
"""x_t = (1 - t) x0 + t x_1 on CoM-free positions; the network predicts x0 (the TS)."""


def reaction_condition(species: Tensor, reactant: Tensor, product: Tensor, batch: Tensor,
                       num_graphs: int | None = None) -> ReactionCondition:
    """Centre the reactant and superpose the product onto it (Kabsch, per reaction).

    Shapes: ``species [N]``, ``reactant``, ``product [N, 3]`` (Angstrom, any frames), ``batch [N]``.
    """
    count = int(batch.max()) + 1 if num_graphs is None else num_graphs
    centred = remove_com(reactant, batch, count)
    return ReactionCondition(species, centred, superpose(product, centred, batch=batch), batch, count)


def aligned_reactions(reactions: ReactionBatch) -> tuple[ReactionBatch, ReactionCondition]:
    """The batch in the model's frame (R centred, P and TS superposed) and its condition (float32).

    The TS is superposed onto the midpoint of R and the superposed P, the frame the network predicts in.
    """
    cond = reaction_condition(reactions.species, reactions.pos_reactant.double(), reactions.pos_product.double(),
                              reactions.batch, len(reactions))
    ts = superpose(reactions.pos_ts.double(), cond.midpoint, batch=reactions.batch)
    aligned = ReactionBatch(reactions.species, cond.reactant.float(), ts.float(), cond.product.float(),
                            reactions.batch, reactions.ptr, reactions.rxn_id, reactions.charge,
                            reactions.multiplicity, reactions.barrier)
    return aligned, _as_condition(aligned)


def _as_condition(aligned: ReactionBatch) -> ReactionCondition:
    return ReactionCondition(aligned.species, aligned.pos_reactant, aligned.pos_product, aligned.batch,
                             len(aligned))


def source(variant: Variant, cond: ReactionCondition, generator: torch.Generator | None = None, *,
           jitter: float = 0.0) -> Tensor:
    """The x_1 of the path ``[N, 3]``: CoM-free standard noise (tsgen) or the aligned midpoint (reactot),
    plus, for reactot, CoM-free Gaussian jitter of ``jitter`` Angstrom per coordinate (training only)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if variant == "reactot" and not jitter:
        return cond.midpoint
    noise = PATH.prior((cond.batch.shape[0], 3), generator, dtype=cond.reactant.dtype, batch=cond.batch,
                       num_graphs=cond.num_graphs)
    return noise if variant == "tsgen" else cond.midpoint + jitter * noise


def repeat_condition(cond: ReactionCondition, copies: int) -> ReactionCondition:
    """``copies`` consecutive copies of every reaction of ``cond`` as one batch of ``copies * num_graphs``."""
    offsets = cond.num_graphs * torch.arange(copies, device=cond.batch.device).repeat_interleave(len(cond.batch))
    return ReactionCondition(cond.species.repeat(copies), cond.reactant.repeat(copies, 1),
                             cond.product.repeat(copies, 1), cond.batch.repeat(copies) + offsets,
                             copies * cond.num_graphs)


def flow_loss(variant: Variant, time_power: float = 1.0, *, source_jitter: float = 0.0,
              noise_invariance: float = 0.0) -> Callable[[nn.Module, ReactionBatch, torch.Generator], LossOutput]:
    """``loss_fn(model, aligned ReactionBatch, generator) -> (loss, metrics)`` for the core Trainer.

    One time per reaction, t = u^time_power with u uniform on (0, 1] (``time_power`` < 1 puts more training
    near t = 1, where sampling starts: density t^(1/time_power - 1) / time_power); loss = per-reaction mean
    squared error of the predicted TS (CoM component removed), averaged over reactions (Angstrom^2).
    ``rmsd`` is the batch's mean RMSD of the prediction without re-alignment.

    ``source_jitter`` (reactot only): the training source is the midpoint plus CoM-free N(0, jitter^2) noise,
    so that x_t does not reveal the TS as (x_t - t M) / (1 - t) (sampling still starts at M itself).
    ``noise_invariance`` > 0 (TS-GEN's variance term): every reaction is seen with two independent sources at
    the same t and ``noise_invariance`` x the per-reaction mean squared difference of the two predicted TSs is
    added, pulling the prediction towards one TS per (R, P) whatever the source draw (``var`` in metrics).
    """
    copies = 2 if noise_invariance else 1

    def loss_fn(model: nn.Module, reactions: ReactionBatch, generator: torch.Generator) -> LossOutput:
        cond = repeat_condition(_as_condition(reactions), copies)
        ts, batch, count = reactions.pos_ts.repeat(copies, 1), cond.batch, cond.num_graphs
        t = PATH.sample_time(len(reactions), generator, device=ts.device).pow(time_power).repeat(copies)[batch]
        x_1 = source(variant, cond, generator, jitter=source_jitter)
        prediction = model(PATH.corrupt(ts, t, x_1), t, cond)
        per_reaction = PATH.loss(prediction, ts, x_1, t, batch=batch, num_graphs=count)
        metrics = {"rmsd": (3.0 * per_reaction.detach()).sqrt().mean()}
        loss = per_reaction.mean()
        if copies == 2:
            first, second = prediction.chunk(2)
            spread = graph_mean((first - second).square().sum(-1, keepdim=True), batch[:len(first)],
                                len(reactions)) / 3.0
            loss = loss + noise_invariance * spread.mean()
            metrics["var"] = spread.detach().mean()
        return loss, metrics

    return loss_fn


@torch.no_grad()
def generate(model: nn.Module, variant: Variant, species: Tensor, reactant: Tensor, product: Tensor,
             batch: Tensor, *, steps: int = 4, solver: str = "euler", seed: int = 0) -> Tensor:
    """Transition states ``[N, 3]`` (Angstrom) in the reactant's input frame, one per reaction of the batch.

    Args:
        model: a trained :class:`TsFlowNet` (float32 or float64; the inputs are cast to its dtype).
        variant: ``tsgen`` (from noise drawn with ``seed``) or ``reactot`` (from the aligned midpoint).
        species: ``[N]`` atomic numbers.
        reactant, product: ``[N, 3]`` Angstrom, same atom order.
        batch: ``[N]`` sorted reaction index.
        steps: ODE steps on the uniform grid from t = 1 to t = 0.
        solver: a name in :data:`genforge.core.solvers.SOLVERS` (deterministic ones: euler, heun, ...).
        seed: seeds the tsgen noise.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")
    dtype = next(model.parameters()).dtype
    cond = reaction_condition(species, reactant.to(dtype), product.to(dtype), batch)
    generator = torch.Generator(device=reactant.device).manual_seed(seed)
    denoiser = ModelDenoiser(model, PATH.path, cond=cond)
    x_1 = source(variant, cond, generator)
    ts = SOLVERS[solver](denoiser, x_1, grids.uniform(steps).to(dtype), generator=generator)
    return ts + graph_mean(reactant.to(dtype), batch, cond.num_graphs)[batch]
