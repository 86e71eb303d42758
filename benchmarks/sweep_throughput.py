"""Sweep throughput: 1 against 2 local workers, and the Ray executor against local, in one run.

    .venv/bin/python benchmarks/sweep_throughput.py [--trials 12] [--no-ray]

Each executor runs the same plan (digits-cnn at half its budget, 40 trials by default) into a
fresh results folder; wall time includes starting the workers, as a user waits for it.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from budgetlr.bench.executors import Execution
from budgetlr.bench.sweep import make_plan, run_sweep


def timed(plan, out: Path, **execution) -> float:
    start = time.perf_counter()
    summary = run_sweep(plan, out, Execution(progress=False, **execution))
    assert summary.ran == len(plan.trials())
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    plan = make_plan(["digits-cnn"], ["cosine"], [0.5], list(range(args.trials)), [3e-3])
    with tempfile.TemporaryDirectory() as folder:
        runs = {
            "local, 1 worker": timed(plan, Path(folder, "one"), workers=1),
            "local, 2 workers": timed(plan, Path(folder, "two"), workers=2),
        }
        if not args.no_ray:
            runs["ray, local cluster"] = timed(plan, Path(folder, "ray"), executor="ray")
    base = runs["local, 1 worker"]
    print(
        f"{args.trials} trials of digits-cnn at budget 0.5 ({plan.trials()[0].budget * 600:.0f} steps each)"
    )
    for name, seconds in runs.items():
        print(
            f"{name:20s} {seconds:6.1f} s   {args.trials / seconds:5.2f} trials/s   speed-up {base / seconds:.2f}x"
        )


if __name__ == "__main__":
    main()
