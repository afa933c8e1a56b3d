"""DiT training throughput on this machine, as a fraction of its own dense matmul throughput.

``python -m benchmarks.dit_throughput`` counts the FLOPs of one training step (forward + backward) with
``torch.utils.flop_counter.FlopCounterMode``, times full steps (forward, backward, AdamW update), times a
large square float32 matmul in the same run, and appends the table to benchmarks/RESULTS.md.
Timings are the best of several rounds (robust to other processes on a shared machine); the matmul and
the training step are measured in alternating rounds so both see the same machine load.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.results import append_result
from genforge.core.nets.dit import DiT, DiTConfig
from genforge.core.nets.init import seeded


@dataclass(frozen=True)
class Measurement:
    """One benchmark result (FLOPs per step, seconds, FLOP/s)."""

    train_flops: float
    forward_flops: float
    step_seconds: float
    matmul_flops_per_second: float

    @property
    def achieved_flops_per_second(self) -> float:
        return self.train_flops / self.step_seconds

    @property
    def ratio(self) -> float:
        return self.achieved_flops_per_second / self.matmul_flops_per_second


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Shortest wall time of ``repeats`` calls of ``fn`` (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def measure(config: DiTConfig, batch: int, tokens: int, *, rounds: int = 5, steps_per_round: int = 3,
            matmul_size: int = 2048, seed: int = 0) -> Measurement:
    """Count and time one DiT training step and a ``matmul_size``^2 float32 matmul."""
    generator = torch.Generator().manual_seed(seed)
    with seeded(seed):
        model = DiT(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(batch, tokens, config.in_dim, generator=generator)
    target = torch.randn(batch, tokens, config.out_dim, generator=generator)
    t = torch.rand(batch, generator=generator)
    labels = (torch.randint(0, config.num_classes + 1, (batch,), generator=generator)
              if config.num_classes else None)

    def train_step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = (model(x, t, labels) - target).square().mean()
        loss.backward()
        optimizer.step()

    with FlopCounterMode(display=False) as counter:
        model(x, t, labels)
    forward_flops = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        (model(x, t, labels) - target).square().mean().backward()
    train_flops = counter.get_total_flops()

    a = torch.randn(matmul_size, matmul_size, generator=generator)
    b = torch.randn(matmul_size, matmul_size, generator=generator)
    for _ in range(2):
        train_step()
        torch.matmul(a, b)
    step_seconds, matmul_seconds = float("inf"), float("inf")
    for _ in range(rounds):
        matmul_seconds = min(matmul_seconds, best_time(lambda: torch.matmul(a, b), 3))
        step_seconds = min(step_seconds, best_time(train_step, steps_per_round))
    return Measurement(train_flops=float(train_flops), forward_flops=float(forward_flops),
                       step_seconds=step_seconds,
                       matmul_flops_per_second=2.0 * matmul_size ** 3 / matmul_seconds)


def report(config: DiTConfig, batch: int, tokens: int, result: Measurement) -> str:
    """Markdown table of one measurement."""
    rows = [
        ("config", ", ".join(f"{k}={v}" for k, v in asdict(config).items())),
        ("batch x tokens", f"{batch} x {tokens}"),
        ("torch threads", str(torch.get_num_threads())),
        ("forward GFLOP / step", f"{result.forward_flops / 1e9:.2f}"),
        ("train GFLOP / step (fwd + bwd, counted)",
         f"{result.train_flops / 1e9:.2f} ({result.train_flops / result.forward_flops:.2f} x fwd)"),
        ("train step time (incl. AdamW)", f"{1e3 * result.step_seconds:.1f} ms"),
        ("tokens / s", f"{batch * tokens / result.step_seconds:,.0f}"),
        ("achieved GFLOP/s", f"{result.achieved_flops_per_second / 1e9:.1f}"),
        ("float32 matmul GFLOP/s (2048^2)", f"{result.matmul_flops_per_second / 1e9:.1f}"),
        ("**ratio achieved / matmul**", f"**{result.ratio:.2f}**"),
    ]
    return "\n".join(["| quantity | value |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--depth", type=int, default=6)
    parser.add_argument("--heads", type=int, default=6)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--no-append", action="store_true", help="print only, do not touch RESULTS.md")
    args = parser.parse_args()
    config = DiTConfig(hidden=args.hidden, depth=args.depth, heads=args.heads, mlp_ratio=4.0, in_dim=8,
                       out_dim=8, num_classes=10)
    table = report(config, args.batch, args.tokens, measure(config, args.batch, args.tokens))
    print(table)
    if not args.no_append:
        append_result("DiT training throughput (benchmarks/dit_throughput.py)", table)


if __name__ == "__main__":
    main()
