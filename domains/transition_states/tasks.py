"""Training tasks ``transition_states.tsgen`` and ``transition_states.reactot`` (recipes in configs/transition_states).

train (core Trainer on the RDB7 train split, R/P/TS aligned once) -> EMA weights -> ``model.pt`` + card in
the run folder -> RMSD of the generated TSs on the first ``num_val`` validation reactions next to the
linear-midpoint baseline -> ``metrics.json``. The xTB barrier errors and the IDPP baseline are scored by
``python -m benchmarks.ts_models`` (slow: one GFN2-xTB single point per TS).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import track
from torch import Tensor, nn

from genforge.core.atomic import write_json
from genforge.core.config import dump_task_config, register_task
from genforge.core.geometry.kabsch import aligned_rmsd
from genforge.core.train import TrainConfig, Trainer
from genforge.core.train.data import IndexedData
from genforge.datasets.rdb7 import ReactionBatch, collate_reactions, load_rdb7, split_reactions
from genforge.domains.transition_states.baselines import linear_midpoint
from genforge.domains.transition_states.checkpoints import TsModelConfig, save_packaged
from genforge.domains.transition_states.flow import Variant, aligned_reactions, flow_loss, generate


@dataclass(frozen=True)
class TsFlowConfig:
    """Recipe of a TS flow model (the variant is the task's name).

    Args:
        data_root: RDB7 folder (None: ``$GENFORGE_DATA/rdb7``, else ``../shared/data/rdb7``).
        num_train: train on this many reactions of the train split (a subset drawn with ``train.seed``;
            None = all 9,660).
        num_val: validation reactions (first ones of the split, in index order) scored after training.
        model: network size.
        solver: ODE solver for sampling (a name in ``genforge.core.solvers.SOLVERS``).
        steps: solver steps from t = 1 to t = 0.
        time_power: training times t = u^time_power, u ~ U(0, 1] (1 = uniform; < 1 favours t near 1, the
            start of sampling; for the deterministic bridge, x_t at small t already reveals the TS).
        source_jitter: reactot only: Gaussian jitter (Angstrom) added to the midpoint source in training.
        noise_invariance: weight of the two-draw variance term (TS-GEN's mode-collapse term; 0 = off,
            doubles the network calls per step), see :func:`~genforge.domains.transition_states.flow.flow_loss`.
        eval_batch: reactions per generation call during evaluation.
        train: the core trainer settings.
    """

    data_root: str | None = None
    num_train: int | None = None
    num_val: int = 1073
    model: TsModelConfig = field(default_factory=TsModelConfig)
    solver: str = "euler"
    steps: int = 4
    time_power: float = 1.0
    source_jitter: float = 0.0
    noise_invariance: float = 0.0
    eval_batch: int = 256
    train: TrainConfig = field(default_factory=TrainConfig)


def rdb7_splits(data_root: str | None) -> tuple[ReactionBatch, ReactionBatch]:
    """(train, val) reactions of RDB7 by the loader's split (10 % val, seed 0)."""
    data = load_rdb7(data_root)
    split = split_reactions(data.reactions.rxn_id)
    return data.reactions.select(split.train), data.reactions.select(split.val)


def train_model(variant: Variant, cfg: TsFlowConfig, reactions: ReactionBatch, *, task: str,
                resume: bool = False) -> tuple[nn.Module, int]:
    """Train on ``reactions`` (any frames); returns the EMA model (eval mode) and the steps run."""
    with torch.random.fork_rng():
        torch.manual_seed(cfg.train.seed)
        model = cfg.model.build()
    aligned, _ = aligned_reactions(reactions)
    data = IndexedData(aligned, collate_reactions)
    loss = flow_loss(variant, cfg.time_power, source_jitter=cfg.source_jitter, noise_invariance=cfg.noise_invariance)
    trainer = Trainer(model, loss, data, cfg.train, config_dict=dump_task_config(task, cfg))
    trained = trainer.fit(resume=resume)
    return (trained if trained is not None else trainer.model.eval()), trainer.step


def generate_batched(model: nn.Module, variant: Variant, reactions: ReactionBatch, *, solver: str, steps: int,
                     batch_size: int, seed: int = 0, progress: bool = True) -> tuple[Tensor, float]:
    """Generated TSs ``[N, 3]`` for all reactions, ``batch_size`` at a time, and the wall seconds spent."""
    chunks, seconds = [], 0.0
    starts = range(0, len(reactions), batch_size)
    for start in track(starts, description=f"{variant}: generating", disable=not progress):
        part = reactions.select(torch.arange(start, min(start + batch_size, len(reactions))))
        begin = time.perf_counter()
        chunks.append(generate(model, variant, part.species, part.pos_reactant, part.pos_product, part.batch,
                               steps=steps, solver=solver, seed=seed + start))
        seconds += time.perf_counter() - begin
    return torch.cat(chunks).double(), seconds


def rmsd_summary(generated: Tensor, reactions: ReactionBatch) -> dict[str, float]:
    """Median and mean Kabsch RMSD (Angstrom) to the reference TSs."""
    rmsd = aligned_rmsd(generated.double(), reactions.pos_ts.double(), batch=reactions.batch)
    return {"rmsd_median": float(rmsd.quantile(0.5)), "rmsd_mean": float(rmsd.mean())}


def score_rmsd(model: nn.Module, variant: Variant, val: ReactionBatch, cfg: TsFlowConfig
               ) -> dict[str, dict[str, float]]:
    """RMSD of the model's TSs and of the linear midpoint on ``val``, and the model's seconds per TS."""
    generated, seconds = generate_batched(model, variant, val, solver=cfg.solver, steps=cfg.steps,
                                          batch_size=cfg.eval_batch, progress=cfg.train.progress)
    midpoint = linear_midpoint(val.pos_reactant, val.pos_product, val.batch)
    return {
        f"{variant} ({cfg.solver}, {cfg.steps} steps)": {**rmsd_summary(generated, val),
                                                          "seconds_per_ts": seconds / len(val)},
        "linear midpoint": rmsd_summary(midpoint, val),
    }




def run_variant(variant: Variant, cfg: TsFlowConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """Train, export ``model.pt`` (+ ``model.json``) and score RMSD on validation (``metrics.json``)."""
    task = f"transition_states.{variant}"
    train, val = rdb7_splits(cfg.data_root)
    if cfg.num_train is not None:
        chosen = torch.randperm(len(train), generator=torch.Generator().manual_seed(cfg.train.seed))
        train = train.select(torch.sort(chosen[:cfg.num_train]).values)
    model, steps_run = train_model(variant, cfg, train, task=task, resume=resume)
    val = val.select(torch.arange(min(cfg.num_val, len(val))))
    metrics = score_rmsd(model, variant, val, cfg) if len(val) else {}
    out_dir = Path(cfg.train.out_dir)
    card = {"recipe": dump_task_config(task, cfg), "steps_trained": steps_run, "train_reactions": len(train),
            "val_reactions": len(val), "val_rmsd": metrics}
    save_packaged(out_dir / "model.pt", model, variant, cfg.model, solver=cfg.solver, steps=cfg.steps,
                  elements=train.species.unique().tolist(), card=card)
    write_json(metrics, out_dir / "metrics.json")
    console = Console()
    for name, row in metrics.items():
        console.print(f"{name}: " + ", ".join(f"{key} {value:.4g}" for key, value in row.items()))
    return metrics


@register_task("transition_states.tsgen")
def run_tsgen(cfg: TsFlowConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """TS-GEN-style: CoM-free Gaussian noise -> TS conditioned on R and P, few-step ODE."""
    return run_variant("tsgen", cfg, resume=resume)


@register_task("transition_states.reactot")
def run_reactot(cfg: TsFlowConfig, *, resume: bool = False) -> dict[str, dict[str, float]]:
    """React-OT-style: deterministic bridge from the aligned R/P midpoint to the TS, one ODE solve."""
    return run_variant("reactot", cfg, resume=resume)
