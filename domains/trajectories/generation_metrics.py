r"""Scores of unconditionally generated trajectories against reference ones (GeoTDM, Han et al. 2024, sec. 5.2;
the protocol of LS4, Zhou et al. 2023).

All take trajectories ``[S, T, N, 3]`` (S systems, T frames, N particles) that are comparable as sets: the same
particle count and frame spacing, centred the same way (CoM-free for GeoTDM's generation).

* **Marginal score** (lower is better, 0 = identical histograms): for every scalar channel (a coordinate, a
  velocity component, a bond length), the reference values pooled over systems, frames and particles define
  ``bins`` equal bins on [min, max]; the score is the mean over bins of |p_gen - p_ref|, the absolute difference
  of the two densities (counts / (count * bin width)), averaged over channels. Generated values outside the
  reference range fall in no bin (their mass is missing from p_gen). As a density difference it has the
  inverse units of the channel.
* **Classifier score** (a discriminator trained to tell generated from reference trajectories): the test
  cross-entropy (nats; ln 2 = 0.693 when it cannot tell, higher is better) and the test accuracy (0.5 is
  best). Split 80 / 20 of each class in its given order (the paper shuffles the union; ordered splits keep
  overlapping windows of one system out of both halves); the discriminator is a one-block EGTN (GeoTDM's
  spatio-temporal layers, width 16) that also gets per-frame speeds and accelerations as invariant inputs,
  with a mean-pooled invariant read-out, so it cannot use orientation.
* **Prediction score** (train on synthetic, test on real): a small predictor (the EGNN forecaster of
  baselines.py, one layer of width 16) is trained to map the first ``cond_frames`` frames of the generated
  trajectories to the rest and tested on the reference trajectories; the score is its test MSE per
  coordinate (lower is better; the same predictor trained on reference trajectories gives the ceiling).

The paper trains the discriminator / predictor (EqMotion, one layer of width 16) for 100 epochs with Adam
(lr 5e-3, batch 128); here the number of steps is an argument (CPU budget).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from genforge.core.nets.init import seeded
from genforge.core.nets.mlp import MLP
from genforge.domains.trajectories.baselines import BaselineConfig, EGNNForecaster
from genforge.domains.trajectories.layers import pair_attributes
from genforge.domains.trajectories.model import EGTN, TrajCondition


def histogram_distance(reference: Tensor, generated: Tensor, bins: int = 50) -> Tensor:
    """Mean over bins of |density_generated - density_reference| per channel.

    Args:
        reference: ``[M, C]`` samples of C scalar channels; the bins span each channel's reference range.
        generated: ``[M', C]``.
        bins: bins per channel.

    Returns:
        ``[C]`` distances (inverse units of the channel; 0 for identical histograms).
    """
    low, high = reference.min(0).values, reference.max(0).values
    width = ((high - low) / bins).clamp_min(1e-12)

    def density(values: Tensor) -> Tensor:
        index = ((values - low) / width).floor().long()
        index = torch.where(values == high, bins - 1, index)  # the top edge belongs to the last bin
        inside = (index >= 0) & (index < bins)
        channel = torch.arange(values.shape[1], device=values.device).expand_as(index)
        flat = (channel * bins + index.clamp(0, bins - 1))[inside]
        counts = torch.bincount(flat, minlength=values.shape[1] * bins).reshape(values.shape[1], bins)
        return counts.to(values.dtype) / (values.shape[0] * width[:, None])

    return (density(generated) - density(reference)).abs().mean(1)


def bonds_of(frame: Tensor, cutoff: float = 1.6) -> Tensor:
    """Atom pairs ``[P, 2]`` (i < j) closer than ``cutoff`` Angstrom in one frame ``[N, 3]`` (covalent bonds)."""
    distance = torch.cdist(frame, frame)
    i, j = torch.triu_indices(frame.shape[0], frame.shape[0], 1, device=frame.device)
    close = distance[i, j] < cutoff
    return torch.stack([i[close], j[close]], dim=1)


def marginal_scores(reference: Tensor, generated: Tensor, *, bins: int = 50,
                    bonds: Tensor | None = None) -> dict[str, float]:
    """Marginal scores of positions (x, y, z), velocities (frame differences) and, given ``bonds [P, 2]``, bond
    lengths: each the mean over its channels of :func:`histogram_distance`. Inputs ``[S, T, N, 3]``."""
    def positions(traj: Tensor) -> Tensor:
        return traj.reshape(-1, 3)

    def velocities(traj: Tensor) -> Tensor:
        return (traj[:, 1:] - traj[:, :-1]).reshape(-1, 3)

    scores = {"position": float(histogram_distance(positions(reference), positions(generated), bins).mean()),
              "velocity": float(histogram_distance(velocities(reference), velocities(generated), bins).mean())}
    if bonds is not None and len(bonds):
        def lengths(traj: Tensor) -> Tensor:  # [S * T, P]: one channel per bond
            return (traj[:, :, bonds[:, 0]] - traj[:, :, bonds[:, 1]]).norm(dim=-1).reshape(-1, len(bonds))

        scores["bond_length"] = float(histogram_distance(lengths(reference), lengths(generated), bins).mean())
    return scores


class Discriminator(nn.Module):
    """E(3)-invariant trajectory classifier: one EGTN block over the trajectory with the particle features and
    the invariant kinematics of every frame (speed |x_t - x_{t-1}| and |x_{t+1} - 2 x_t + x_{t-1}|, zero where
    undefined) as inputs, mean-pooled features, a two-layer read-out.

    Shapes: traj ``[B, T, N, 3]``, node_features ``[B, N, F]`` -> logits ``[B]``.
    """

    def __init__(self, node_dim: int, hidden: int = 16):
        super().__init__()
        self.net = EGTN(node_dim + 2, hidden, node_dim, 1, 16)
        self.out = MLP([hidden, hidden, 1])

    def forward(self, traj: Tensor, node_features: Tensor) -> Tensor:
        speed = (traj[:, 1:] - traj[:, :-1]).norm(dim=-1, keepdim=True)
        acceleration = (traj[:, 2:] - 2 * traj[:, 1:-1] + traj[:, :-2]).norm(dim=-1, keepdim=True)
        kinematics = torch.cat([nn.functional.pad(speed, (0, 0, 0, 0, 1, 0)),
                                nn.functional.pad(acceleration, (0, 0, 0, 0, 1, 1))], dim=-1)  # [B, T, N, 2]
        features = torch.cat([node_features[:, None].expand(-1, traj.shape[1], -1, -1), kinematics], dim=-1)
        _, h = self.net(traj, features, pair_attributes(node_features))
        return self.out(h.mean(dim=(1, 2)))[:, 0]


@dataclass(frozen=True)
class ScoreTraining:
    """How the discriminator / predictor are trained (Adam, random minibatches).

    Args:
        steps: optimiser steps.
        batch_size: minibatch size.
        lr: Adam learning rate (the paper's 5e-3).
        seed: seeds the network initialisation, the split and the minibatches.
    """

    steps: int = 300
    batch_size: int = 128
    lr: float = 5e-3
    seed: int = 0


def _fit(model: nn.Module, loss_of: Callable[[Tensor], Tensor], size: int, cfg: ScoreTraining,
         generator: torch.Generator) -> None:
    """``cfg.steps`` Adam steps of ``loss_of(index [b]) -> scalar`` on random minibatches of ``range(size)``."""
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model.train()
    for _ in range(cfg.steps):
        index = torch.randint(0, size, (min(cfg.batch_size, size),), generator=generator)
        optimizer.zero_grad()
        loss_of(index).backward()
        optimizer.step()
    model.eval()


def classifier_score(reference: Tensor, generated: Tensor, node_features: Tensor,
                     cfg: ScoreTraining = ScoreTraining(), *,
                     generated_node_features: Tensor | None = None) -> dict[str, float]:
    """Test cross-entropy (nats) and accuracy of a discriminator of generated vs reference trajectories.

    Each class is split in its given order, the first 80 % for training, the rest for testing: order the
    reference so that its last 20 % share no system or frames with the rest (overlapping windows of one system
    would let the discriminator recognise systems instead of telling the distributions apart).

    Args:
        reference: ``[S, T, N, 3]``.
        generated: ``[S', T, N, 3]``; both sets are cut to min(S, S') so the classes are balanced.
        node_features: ``[S, N, F]`` features of the reference systems.
        cfg: discriminator training.
        generated_node_features: ``[S', N, F]`` features of the generated systems (default ``node_features``:
            generated system k was sampled with the particles of reference system k). Features that do not
            belong to a trajectory (charges of other systems) make it easy to tell apart.
    """
    count = min(len(reference), len(generated))
    generator = torch.Generator().manual_seed(cfg.seed)
    traj = torch.cat([reference[:count], generated[:count]]).float()
    other = node_features if generated_node_features is None else generated_node_features
    nodes = torch.cat([node_features[:count], other[:count]]).float()
    label = torch.cat([torch.zeros(count), torch.ones(count)])
    cut = int(0.8 * count)
    train = torch.cat([torch.arange(cut), count + torch.arange(cut)])
    test = torch.cat([torch.arange(cut, count), count + torch.arange(cut, count)])
    with seeded(cfg.seed):
        model = Discriminator(nodes.shape[-1])
    criterion = nn.BCEWithLogitsLoss()

    def loss_of(index: Tensor) -> Tensor:
        chosen = train[index]
        return criterion(model(traj[chosen], nodes[chosen]), label[chosen])

    _fit(model, loss_of, len(train), cfg, generator)
    with torch.no_grad():
        logits = model(traj[test], nodes[test])
    entropy = nn.functional.binary_cross_entropy_with_logits(logits, label[test])
    accuracy = ((logits > 0).float() == label[test]).float().mean()
    return {"cross_entropy": float(entropy), "accuracy": float(accuracy), "chance_cross_entropy": math.log(2.0)}


def prediction_score(train: Tensor, test: Tensor, node_features: Tensor, cond_frames: int,
                     cfg: ScoreTraining = ScoreTraining(), *, test_node_features: Tensor | None = None) -> float:
    """Test MSE per coordinate of a predictor trained on ``train`` and tested on ``test`` (both ``[S, T, N, 3]``).

    The predictor maps the first ``cond_frames`` frames to the remaining T - cond_frames; ``node_features
    [S_train, N, F]`` belong to ``train`` (``test_node_features`` to ``test``, default the same rows).
    Train on generated and test on reference trajectories for the prediction score.
    """
    test_nodes = (node_features if test_node_features is None else test_node_features)[: len(test)].float()
    train, test, nodes = train.float(), test.float(), node_features[: len(train)].float()
    base = BaselineConfig(node_dim=nodes.shape[-1], hidden=16, layers=1, cond_frames=cond_frames,
                          future_frames=train.shape[1] - cond_frames, time_dim=16)
    with seeded(cfg.seed):
        model = EGNNForecaster(base)
    generator = torch.Generator().manual_seed(cfg.seed)

    def loss_of(index: Tensor) -> Tensor:
        chosen = train[index]
        forecast = model(TrajCondition(nodes[index], chosen[:, :cond_frames]))
        return (forecast - chosen[:, cond_frames:]).square().mean()

    _fit(model, loss_of, len(train), cfg, generator)
    with torch.no_grad():
        forecast = model(TrajCondition(test_nodes, test[:, :cond_frames]))
    return float((forecast - test[:, cond_frames:]).square().mean())
