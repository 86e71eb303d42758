"""What a second ``budgetlr bench`` process on the same results folder buys: one sweep run by one
process, then by two processes started together on a fresh folder, timed wall-clock.

    nice .venv/bin/python benchmarks/concurrent_sweeps.py [--workers 1] [--seeds 4]

Each process runs ``--workers`` worker processes. The sweep is digits-cnn at its full budget (600
steps), 2 schedules x 3 peak LRs x ``--seeds`` seeds. The processes claim trials a few at a
time (as many as they have idle workers), so the second takes its share instead of waiting for
the first. Prints each configuration's seconds, the trials each process ran and the ratio of one
process's time to two's. Only ratios measured in one run mean anything on a shared machine.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")


def sweep(out: Path, workers: int, seeds: int) -> list[str]:
    return [BUDGETLR, "bench", "--workload", "digits-cnn", "--schedules", "cosine,linear", "--budgets", "1.0",
            "--lrs", "0.003,0.01,0.03", "--seeds", ",".join(map(str, range(seeds))), "--workers", str(workers),
            "--no-report", "--quiet", "--out", str(out)]  # fmt: skip


def timed(processes: int, workers: int, seeds: int) -> tuple[float, list[int]]:
    """Seconds until every process has finished, and how many trials each ran itself."""
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        running = [
            subprocess.Popen(sweep(Path(folder), workers, seeds), stdout=subprocess.PIPE, text=True)
            for _ in range(processes)
        ]
        outputs = [process.communicate()[0] for process in running]
        seconds = time.perf_counter() - start
    if any(process.returncode for process in running):
        raise SystemExit(f"a sweep failed: {outputs}")
    return seconds, [int(re.search(r"(\d+) run now", out).group(1)) for out in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="worker processes per sweep process")
    parser.add_argument("--seeds", type=int, default=4)
    args = parser.parse_args()
    timed(1, 1, 1)  # the file cache warm before anything is timed
    one, ran_one = timed(1, args.workers, args.seeds)
    two, ran_two = timed(2, args.workers, args.seeds)
    print(f"{sum(ran_one)} trials, {args.workers} worker(s) per process")
    print(f"one process:   {one:6.1f} s  (ran {ran_one[0]})")
    print(f"two processes: {two:6.1f} s  (ran {' and '.join(map(str, ran_two))})")
    print(f"one / two: {one / two:.2f}x")


if __name__ == "__main__":
    main()
