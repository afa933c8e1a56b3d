"""Tiny seeded train -> sample -> evaluate runs: both flow variants, trained with the cpu recipes' loss options,
beat the midpoint on synthetic reactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from _ts_synthetic import synthetic_reactions

from genforge.core.train import TrainConfig
from genforge.domains.transition_states.baselines import linear_midpoint
from genforge.domains.transition_states.checkpoints import TsModelConfig
from genforge.domains.transition_states.tasks import TsFlowConfig, generate_batched, rmsd_summary, train_model


@pytest.mark.parametrize("variant", ["reactot", "tsgen"])
def test_tiny_training_moves_rmsd_well_below_the_midpoint(variant: str, tmp_path: Path) -> None:
    train, val = synthetic_reactions(128, 0), synthetic_reactions(32, 1)
    cfg = TsFlowConfig(model=TsModelConfig(hidden=32, num_layers=2, num_rbf=8, time_dim=8), noise_invariance=1.0,
                       source_jitter=0.3,  # the cpu recipes' loss options (the jitter applies to reactot only)
                       train=TrainConfig(steps=150, batch_size=16, lr=3e-3, warmup_steps=10, ema_decay=None,
                                         progress=False, log_every=1000, ckpt_every=1000, out_dir=tmp_path))
    model, steps = train_model(variant, cfg, train, task=f"transition_states.{variant}")
    generated, _ = generate_batched(model, variant, val, solver="euler", steps=4, batch_size=64, progress=False)
    learned = rmsd_summary(generated, val)
    midpoint = rmsd_summary(linear_midpoint(val.pos_reactant, val.pos_product, val.batch), val)
    assert steps == 150
    assert midpoint["rmsd_median"] > 0.15  # the synthetic TS is far from the midpoint
    assert learned["rmsd_median"] < 0.6 * midpoint["rmsd_median"]
