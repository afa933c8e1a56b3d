"""Peak memory of `genforge sample` vs number of samples, streamed in chunks vs drawn in one piece.

``python -m benchmarks.sampling_memory``: trains the tiny toy2d recipe once, then runs `genforge sample`
in a fresh process per setting and reads that process's peak resident set size (``ru_maxrss``). With
streaming (chunk 100,000) peak memory should stay flat as the sample count grows; with one chunk it grows
with the count. Appends a table to benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.results import append_result

RECIPE = Path(__file__).resolve().parents[1] / "configs" / "toy2d" / "tiny" / "toy2d.yaml"
PROBE = """
import resource, sys
from genforge.cli import main
try:
    main()
except SystemExit as done:
    assert not done.code, done.code
print("MAXRSS", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def peak_rss_mib(ckpt: Path, out: Path, num: int, chunk: int) -> tuple[float, float]:
    """(peak RSS in MiB, wall seconds) of one `genforge sample` process."""
    argv = ["genforge", "sample", "--ckpt", str(ckpt), "--num", str(num), "--chunk", str(chunk), "--out", str(out)]
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", f"import sys; sys.argv = {argv!r}\n{PROBE}"],
                            capture_output=True, text=True, check=True)
    seconds = time.perf_counter() - start
    line = next(line for line in result.stdout.splitlines() if line.startswith("MAXRSS"))
    assert np.load(out / "samples.npy", mmap_mode="r").shape == (num, 2)
    return int(line.split()[1]) / 1024, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 4_000_000])
    parser.add_argument("--chunk", type=int, default=100_000)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        subprocess.run([sys.executable, "-m", "genforge", "train", "--config", str(RECIPE), "--set",
                        f"train.out_dir={run}", "--set", "num_samples=200"], check=True, capture_output=True)
        rows = []
        for num in args.counts:
            streamed = peak_rss_mib(run / "last.pt", Path(folder) / "a", num, args.chunk)
            whole = peak_rss_mib(run / "last.pt", Path(folder) / "b", num, num)
            rows.append((num, streamed, whole))
            print(json.dumps({"num": num, "streamed_mib": streamed[0], "one_chunk_mib": whole[0]}))
    body = ("`genforge sample` on the tiny toy2d checkpoint (2-D samples, DPM-Solver++(2M), 10 steps); peak RSS "
            f"of the sampling process (MiB, includes ~the torch import) and wall time.\n\n"
            f"| samples | streamed (chunk {args.chunk:,}) | one chunk |\n|---|---|---|\n"
            + "\n".join(f"| {num:,} | {s[0]:.0f} MiB, {s[1]:.1f} s | {w[0]:.0f} MiB, {w[1]:.1f} s |"
                        for num, s, w in rows))
    print(body)
    if not args.no_record:
        append_result("Sampling memory vs number of samples (benchmarks/sampling_memory.py)", body)


if __name__ == "__main__":
    main()
