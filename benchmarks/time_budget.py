"""Budgets in time and in samples against step budgets, on the built-in ``quadratic`` workload.

    nice .venv/bin/python benchmarks/time_budget.py [--deadline 15] [--seeds 0,1] [--samples 48000]

1. **Time.** Every run trains until a wall-clock deadline, each step padded by a sleep that
   stands for a slow accelerator step: 4 ms until half the deadline, then 8 ms (the throughput
   halves mid-run). ``budget="{deadline}s"`` plans to the deadline from the measured throughput;
   the step budgets are what a user guesses instead: the steps the time budget ended up running
   (known only in hindsight), 1.5x that (the run is cut at the deadline, the LR still high) and
   0.67x (the run ends early, at the floor, leaving time unused). Reported: where each run
   stopped against the deadline, its LR against the floor, its re-plans and the final excess risk.
2. **Samples.** A batch-size ramp (16, 32, 64, 128 samples a step, each for a quarter of the
   samples) under ``budget="N samples"`` against a step budget of the same number of steps: the
   same data, the schedule run on samples or on steps. No sleep; final excess risk.

The excess risk is the workload's exact population metric. Wall clock: about 4 x deadline per
seed, mostly asleep.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from budgetlr.bench.workloads.quadratic import Quadratic
from budgetlr.torch import BudgetScheduler

SPEC = "cosine(warmup=0.05, floor=0.01)"
LR = 0.3
WORKLOAD = Quadratic(kappa=100.0, noise=0.5)
FAST, SLOW = 0.004, 0.008


@dataclass
class Run:
    name: str
    steps: int
    seconds: float
    lr_over_floor: float
    replans: int
    excess_risk: float


def samples(generator: torch.Generator, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of ``batch_size`` fresh samples of the workload's distribution."""
    x = torch.randn(batch_size, WORKLOAD.dim, generator=generator) * WORKLOAD.spectrum.sqrt()
    eps = torch.randn(batch_size, generator=generator)
    return x, x @ WORKLOAD.optimum + WORKLOAD.noise * eps


def setup(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, torch.Generator]:
    torch.manual_seed(seed)
    model = WORKLOAD.build_model()
    return model, torch.optim.SGD(model.parameters(), lr=LR), torch.Generator().manual_seed(seed)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch: tuple) -> None:
    optimizer.zero_grad()
    WORKLOAD.loss(model, batch).backward()
    optimizer.step()


def timed_run(name: str, seed: int, deadline: float, budget: int | str) -> Run:
    """Train until the scheduler is finished or, for a step budget, the deadline passes (a time
    budget is left to stop itself, with a margin of half the deadline as a guard)."""
    model, optimizer, generator = setup(seed)
    timed = isinstance(budget, str)
    scheduler = BudgetScheduler(optimizer, SPEC, budget=budget)
    start = time.monotonic()
    plans = {scheduler.total_steps}
    cut = deadline * 1.5 if timed else deadline
    while not scheduler.finished and time.monotonic() - start < cut:
        train_step(model, optimizer, samples(generator, WORKLOAD.batch_size))
        time.sleep(FAST if time.monotonic() - start < deadline / 2 else SLOW)
        scheduler.step()
        plans.add(scheduler.total_steps)
    return Run(
        name,
        scheduler.last_epoch,
        time.monotonic() - start,
        scheduler.get_last_lr()[0] / (LR * 0.01),
        len(plans) - 2 if timed else 0,  # the provisional plan and the first real one are not re-plans
        WORKLOAD.evaluate(model, "test"),
    )


def ramp(total_samples: int) -> Iterator[int]:
    """Batch sizes 16, 32, 64, 128, each for a quarter of ``total_samples``."""
    consumed = 0
    while consumed < total_samples:
        size = 16 * 2 ** min(4 * consumed // total_samples, 3)
        consumed += size
        yield size


def ramp_run(seed: int, total_samples: int, in_samples: bool) -> float:
    model, optimizer, generator = setup(seed)
    sizes = list(ramp(total_samples))
    budget = f"{total_samples} samples" if in_samples else len(sizes)
    scheduler = BudgetScheduler(optimizer, SPEC, budget=budget, per_step=sizes[0] if in_samples else None)
    for size in sizes:
        train_step(model, optimizer, samples(generator, size))
        scheduler.step(**({"samples": size} if in_samples else {}))
    assert scheduler.finished
    return WORKLOAD.evaluate(model, "test")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deadline", type=float, default=15.0, help="seconds per timed run")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--samples", type=int, default=48_000, help="samples of the batch-size ramp")
    args = parser.parse_args()
    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    deadline = args.deadline
    print(f"quadratic(kappa=100), SGD lr={LR}, {SPEC}; step {FAST * 1e3:g} ms then {SLOW * 1e3:g} ms "
          f"after {deadline / 2:g} s; deadline {deadline:g} s; seeds {seeds}")  # fmt: skip
    runs: dict[str, list[Run]] = {}
    for seed in seeds:
        timed = timed_run("time budget", seed, deadline, f"{deadline}s")
        fitted = timed.steps
        guesses = {
            "steps = hindsight": fitted,
            "steps = 1.5x (cut)": round(1.5 * fitted),
            "steps = 0.67x (early)": round(fitted / 1.5),
        }
        runs.setdefault(timed.name, []).append(timed)
        for name, steps in guesses.items():
            runs.setdefault(name, []).append(timed_run(name, seed, deadline, steps))
    print("\n| run | steps | stopped at (s) | / deadline | final LR / floor | re-plans | excess risk |")
    print("|---|---|---|---|---|---|---|")
    for name, group in runs.items():
        steps = "/".join(str(r.steps) for r in group)
        seconds = "/".join(f"{r.seconds:.2f}" for r in group)
        ratio = "/".join(f"{r.seconds / deadline:.3f}" for r in group)
        lr = "/".join(f"{r.lr_over_floor:.3g}" for r in group)
        replans = "/".join(str(r.replans) for r in group)
        risk = statistics.mean(r.excess_risk for r in group)
        print(f"| {name} | {steps} | {seconds} | {ratio} | {lr} | {replans} | {risk:.4g} |")

    print(f"\nbatch-size ramp 16 -> 128 over {args.samples} samples ({len(list(ramp(args.samples)))} steps), "
          f"seeds {seeds}: mean excess risk")  # fmt: skip
    for in_samples in (True, False):
        risks = [ramp_run(seed, args.samples, in_samples) for seed in seeds]
        label = f'budget="{args.samples} samples"' if in_samples else "budget in steps"
        print(f"| {label} | {statistics.mean(risks):.4g} | {' / '.join(f'{r:.4g}' for r in risks)} |")


if __name__ == "__main__":
    main()
