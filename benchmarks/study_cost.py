"""The fair study's plan and its predicted wall-clock time on this machine, with one worker.

    .venv/bin/python benchmarks/study_cost.py [--short DB_FOLDER]

Per workload it times one trial at the full budget (cosine at a middle LR of the coarse grid,
seed 0, one torch thread, its data prepared first) and splits it into training time, which scales
with the budget, and evaluation time, which does not (a trial validates 20 times at any budget).
A trial at budget b is predicted to take b x training + evaluation seconds. The trial count is the
coarse grid's plus the LRs refinement adds per cell: ``--short`` reads them from a short run of
the suite (``budgetlr bench --suite fair --budgets 0.1 --seeds 0,1``), whose trials' own times
also check the prediction; without it each cell is assumed to add 3 LRs.
"""

from __future__ import annotations

import argparse
import os
import statistics
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch

torch.set_num_threads(1)

from budgetlr.bench.runner import TrialConfig, run_trial  # noqa: E402
from budgetlr.bench.store import Store  # noqa: E402
from budgetlr.bench.suites import SUITES  # noqa: E402
from budgetlr.bench.sweep import make_plan  # noqa: E402
from budgetlr.bench.workloads import resolve_workload  # noqa: E402

ASSUMED_EXTRA_LRS = 3.0


def timed(workload: str, lr: float) -> tuple[float, float]:
    """(training seconds, evaluation seconds) of one full-budget trial of ``workload``."""
    resolve_workload(workload).prepare()
    result = run_trial(TrialConfig(workload, "cosine", 1.0, lr, 0))
    return result.wall_time - result.eval_time, result.eval_time


def extra_lrs(short: Path, coarse: dict[str, tuple[float, ...]]) -> dict[str, float]:
    """Per workload, the mean number of LRs refinement added to a cell of the short run."""
    grids: dict[tuple[str, str, float], set[float]] = defaultdict(set)
    with Store.existing(short) as store:
        for trial in store.trials():
            grids[(trial.workload, trial.schedule, trial.budget)].add(trial.lr)
    added: dict[str, list[int]] = defaultdict(list)
    for (workload, _, _), lrs in grids.items():
        added[workload].append(len(lrs - set(coarse[workload])))
    return {workload: statistics.mean(counts) for workload, counts in added.items()}


def short_run_check(short: Path, seconds: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Per workload, (measured mean seconds per trial of the short run, predicted)."""
    times: dict[str, list[tuple[float, float]]] = defaultdict(list)
    with Store.existing(short) as store:
        for trial in store.trials():
            times[trial.workload].append((trial.budget, trial.wall_time))
    out = {}
    for workload, pairs in times.items():
        train, evaluation = seconds[workload]
        measured = statistics.mean(wall for _, wall in pairs)
        predicted = statistics.mean(budget * train + evaluation for budget, _ in pairs)
        out[workload] = (measured, predicted)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", type=Path, help="results folder of a short run of the suite")
    args = parser.parse_args()
    suite = SUITES["fair"]
    parts = [
        (part, make_plan(part.workloads, part.schedules, part.budgets, part.seeds, grids=part.lrs))
        for part in suite.sweeps()
    ]
    coarse = {w: plan.lrs[w] for _, plan in parts for w in plan.workloads}
    extra = extra_lrs(args.short, coarse) if args.short else {}
    seconds = {w: timed(w, grid[len(grid) // 2]) for w, grid in coarse.items()}
    rows, total_trials, total_seconds = [], 0.0, 0.0
    for _, plan in parts:
        for workload in plan.workloads:
            train, evaluation = seconds[workload]
            lrs = len(coarse[workload]) + extra.get(workload, ASSUMED_EXTRA_LRS)
            per_cell = lrs * len(plan.seeds)
            cells = len(plan.schedules) * len(plan.budgets)
            trials = cells * per_cell
            cost = per_cell * len(plan.schedules) * sum(b * train + evaluation for b in plan.budgets)
            rows.append((workload, train + evaluation, lrs, trials, cost))
            total_trials += trials
            total_seconds += cost
    print("| workload | full-budget trial (s) | LRs per cell | trials | predicted hours |")
    print("|---|---|---|---|---|")
    for workload, full, lrs, trials, cost in rows:
        print(f"| {workload} | {full:.1f} | {lrs:.1f} | {trials:.0f} | {cost / 3600:.2f} |")
    print(f"| total | | | {total_trials:.0f} | {total_seconds / 3600:.2f} |")
    if args.short:
        print("\nshort run check (mean seconds per trial: measured, predicted):")
        for workload, (measured, predicted) in sorted(short_run_check(args.short, seconds).items()):
            print(f"  {workload}: {measured:.2f}, {predicted:.2f} (ratio {measured / predicted:.2f})")


if __name__ == "__main__":
    main()
