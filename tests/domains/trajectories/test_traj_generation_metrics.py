"""Generation scores on hand-made cases: identical distributions score best, shifted / wrong ones worse."""

from __future__ import annotations

import math

import pytest
import torch

from genforge.domains.trajectories.generation_metrics import (
    ScoreTraining,
    bonds_of,
    classifier_score,
    histogram_distance,
    marginal_scores,
    prediction_score,
)


def _motion(num: int, seed: int, frames: int = 8, particles: int = 3) -> torch.Tensor:
    """Uniformly accelerated particles ``[num, frames, particles, 3]``, one random draw per seed."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.randn(num, 1, particles, 3, generator=generator)
    velocity = 0.3 * torch.randn(num, 1, particles, 3, generator=generator)
    acceleration = 0.1 * torch.randn(num, 1, particles, 3, generator=generator)
    time = torch.arange(frames, dtype=torch.float32)[None, :, None, None]
    return start + time * velocity + 0.5 * time.square() * acceleration


def test_histogram_distance_by_hand() -> None:
    reference = torch.tensor([[0.0], [1.0]])  # 2 bins of width 0.5, density 1 in each
    assert histogram_distance(reference, reference, bins=2).item() == pytest.approx(0.0)
    # both generated values in the upper bin: densities (0, 2) vs (1, 1) -> mean |difference| 1
    assert histogram_distance(reference, torch.tensor([[0.9], [0.9]]), bins=2).item() == pytest.approx(1.0)
    # outside the reference range: no mass in any bin
    assert histogram_distance(reference, torch.tensor([[5.0], [-3.0]]), bins=2).item() == pytest.approx(1.0)


def test_marginal_scores_grow_with_a_shift() -> None:
    reference, same = _motion(400, 0), _motion(400, 1)
    scores = [marginal_scores(reference, same + shift)["position"] for shift in (0.0, 0.5, 2.0)]
    assert scores[0] < scores[1] < scores[2]
    faster = marginal_scores(reference, same * torch.linspace(1.0, 3.0, 8)[None, :, None, None])
    assert faster["velocity"] > 2 * marginal_scores(reference, same)["velocity"]


def test_bond_length_marginal_sees_a_stretched_bond() -> None:
    frame = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [3.0, 0.0, 0.0]])
    assert bonds_of(frame).tolist() == [[0, 1]]  # 1 A apart; 2 A (> 1.6) and 3 A are not bonds
    generator = torch.Generator().manual_seed(0)
    reference = frame + 0.05 * torch.randn(200, 4, 3, 3, generator=generator)
    same = frame + 0.05 * torch.randn(200, 4, 3, 3, generator=generator)
    stretched = same.clone()
    stretched[..., 1, 0] += 0.2
    bonds = bonds_of(frame)
    good = marginal_scores(reference, same, bonds=bonds)["bond_length"]
    assert marginal_scores(reference, stretched, bonds=bonds)["bond_length"] > 3 * good


def test_classifier_score_is_near_chance_for_one_distribution_and_separates_another() -> None:
    reference, same = _motion(160, 0), _motion(160, 1)
    nodes = torch.ones(160, 3, 1)
    training = ScoreTraining(steps=60, batch_size=64, seed=0)
    alike = classifier_score(reference, same, nodes, training)
    jitter = 0.3 * torch.randn(same.shape, generator=torch.Generator().manual_seed(2))
    jittery = classifier_score(reference, same + jitter, nodes, training)
    assert alike["chance_cross_entropy"] == pytest.approx(math.log(2.0))
    assert alike["accuracy"] < 0.7 and alike["cross_entropy"] > 0.6
    assert jittery["accuracy"] > 0.9 and jittery["cross_entropy"] < 0.4


def test_prediction_score_is_lower_when_trained_on_the_right_dynamics() -> None:
    reference, same = _motion(128, 0), _motion(128, 1)
    noise = torch.randn(same.shape, generator=torch.Generator().manual_seed(3)).cumsum(1) * 0.3 + same[:, :1]
    nodes = torch.ones(128, 3, 1)
    training = ScoreTraining(steps=60, batch_size=64, seed=0)
    right = prediction_score(same, reference, nodes, 4, training)
    wrong = prediction_score(noise, reference, nodes, 4, training)
    assert right < 0.5 * wrong
