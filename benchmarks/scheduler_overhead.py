"""Per-step cost of ``BudgetScheduler.step()`` against ``torch.optim.lr_scheduler.LambdaLR`` driving
the same curve, as ratios measured in one run (these machines are noisy: compare within a run).

    .venv/bin/python benchmarks/scheduler_overhead.py [--steps 100000] [--repeats 7]

LambdaLR is timed with two lambdas: a closed form written in Python's ``math`` (what people write
by hand, nanoGPT style) and a lookup into a precomputed list (the fastest a lambda can be).
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from budgetlr.schedules import schedule
from budgetlr.torch import BudgetScheduler

SPEC = "cosine(warmup=0.05)"


def hand_written_cosine(total_steps: int, warmup_steps: int):
    def multiplier(t: int) -> float:
        if t < warmup_steps:
            return (t + 1) / (warmup_steps + 1)
        p = min(1.0, (t - warmup_steps) / (total_steps - warmup_steps))
        return 0.5 * (1.0 + math.cos(math.pi * p))

    return multiplier


def seconds_per_step(make_scheduler, steps: int) -> float:
    params = [torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))]
    optimizer = torch.optim.SGD([{"params": [params[0]], "lr": 0.1}, {"params": [params[1]], "lr": 0.01}])
    scheduler = make_scheduler(optimizer)
    optimizer.step()  # after the scheduler wraps it, so torch's call-order check is satisfied
    start = time.perf_counter()
    for _ in range(steps):
        scheduler.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    total = args.steps
    bound = schedule(SPEC, total)
    table = bound.multiplier(range(total + 1)).tolist()
    candidates = {
        "BudgetScheduler": lambda o: BudgetScheduler(o, SPEC, total),
        "LambdaLR(math lambda)": lambda o: torch.optim.lr_scheduler.LambdaLR(
            o, hand_written_cosine(total, bound.spec.resolve_warmup(total))
        ),
        "LambdaLR(list lookup)": lambda o: torch.optim.lr_scheduler.LambdaLR(o, table.__getitem__),
    }
    best = {name: math.inf for name in candidates}
    for _ in range(args.repeats):  # interleaved, best of N: the least disturbed run of each
        for name, make in candidates.items():
            best[name] = min(best[name], seconds_per_step(make, args.steps))
    print(
        f"torch {torch.__version__}, {args.steps} steps x best of {args.repeats}, spec {SPEC}, 2 param groups"
    )
    for name, seconds in best.items():
        ratio = best["BudgetScheduler"] / seconds
        print(f"{name:24s} {seconds * 1e6:7.2f} us/step   BudgetScheduler / this = {ratio:.2f}x")


if __name__ == "__main__":
    main()
