"""What recording a run costs: a training loop with ``BudgetScheduler(record=...)`` and
``step(loss=loss)`` against the same loop without the recorder, on the smallest built-in workloads.

    nice .venv/bin/python benchmarks/recorder_overhead.py [--repeats 7]

Both loops run the same model, batches and schedule (forward, backward, optimizer step, scheduler
step), timed alternately in one process with one torch thread; this machine is shared and noisy, so
only ratios of adjacent runs mean anything. Two measures of the recorder's cost per step, each as a
fraction of the step without the recorder:

* the whole loop: the loops' time per step, with against without (median over pairs);
* the scheduler call alone: the time inside ``scheduler.step`` (where the recorder runs, its writes
  included), with against without, which leaves out the noise of the training step itself.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from pathlib import Path

import torch

from budgetlr.bench.workloads import resolve_workload
from budgetlr.torch import BudgetScheduler

#: (workload, steps, peak LR)
WORKLOADS = (("quadratic", 2000, 0.01), ("digits-cnn", 600, 0.03), ("mnist1d-cnn", 600, 0.03))
SPEC = "cosine(warmup=0.05)"


def seconds_per_step(workload_spec: str, steps: int, lr: float, record: Path | None) -> tuple[float, float]:
    """The loop's seconds per step, and those spent inside ``scheduler.step``."""
    workload = resolve_workload(workload_spec)
    workload.prepare()
    torch.manual_seed(0)
    model = workload.build_model().to(workload.device())
    optimizer = workload.make_optimizer(model.parameters(), lr)
    batches = list(itertools.islice(workload.batches(torch.Generator().manual_seed(0)), steps))
    if record is not None:
        record.unlink(missing_ok=True)
    scheduler = BudgetScheduler(optimizer, SPEC, steps, record=record)
    clock = time.perf_counter
    inside = 0.0
    start = clock()
    for batch in batches:
        loss = workload.loss(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        entered = clock()
        if record is None:
            scheduler.step()
        else:
            scheduler.step(loss=loss)
        inside += clock() - entered
    float(loss.detach())
    return (clock() - start) / steps, inside / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = Path(tempfile.mkdtemp()) / "run.csv"
    print(f"recorder overhead, one torch thread, {args.repeats} pairs, {SPEC}")
    print("| workload | steps | step without recorder (us): median | with recorder (us): median "
          "| whole loop: overhead, median of pairs | scheduler call (us): without, with | "
          "scheduler call: overhead, median of pairs |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for workload, steps, lr in WORKLOADS:
        seconds_per_step(workload, steps, lr, None)  # warm up: data, caches, first calls
        seconds_per_step(workload, steps, lr, record)
        pairs = []
        for repeat in range(args.repeats):
            order = (None, record) if repeat % 2 == 0 else (record, None)
            timed = {str(path): seconds_per_step(workload, steps, lr, path) for path in order}
            pairs.append((timed["None"], timed[str(record)]))
        bare, recorded = [b[0] for b, _ in pairs], [r[0] for _, r in pairs]
        calls = [(b[1], r[1]) for b, r in pairs]
        print(
            f"| {workload} | {steps} | {1e6 * statistics.median(bare):.1f} | {1e6 * statistics.median(recorded):.1f} "
            f"| {100 * statistics.median(r[0] / b[0] - 1 for b, r in pairs):+.2f}% "
            f"| {1e6 * statistics.median(c[0] for c in calls):.2f}, {1e6 * statistics.median(c[1] for c in calls):.2f} "
            f"| {100 * statistics.median((r[1] - b[1]) / b[0] for b, r in pairs):+.2f}% |"
        )


if __name__ == "__main__":
    main()
