"""A trial's training throughput against a bare PyTorch loop on the same model and batches.

    nice .venv/bin/python benchmarks/training_overhead.py [--repeats 7]

For each workload and schedule the two are timed alternately, in one process with one torch
thread (as a sweep's worker runs), and the ratio of each adjacent pair is reported: this machine
is shared and noisy, so only ratios measured side by side mean anything; the ratio of the two
fastest runs (the least disturbed) is printed too. The trial is ``run_trial``: its stored steps
per second count training only (scheduler, LR record and batched divergence checks included,
evaluations excluded). A ``linear`` trial also records its gradient norm at every step (the
runs refinement starts from do); a ``cosine`` trial does not. The bare loop is forward,
backward and optimizer step on the same initialisation and batch stream, with the schedule's
LRs, computed beforehand, written into the optimizer by hand, and no evaluation: the same
training run, so the ratio is the trial's overhead. (A bare loop at a constant LR is not the same
run: on mnist1d-cnn the cosine run's arithmetic alone is about 2% slower than the constant-LR
run's, whoever sets the LRs.)
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

import budgetlr
from budgetlr.bench.runner import TrialConfig, budget_steps, run_trial
from budgetlr.bench.workloads import resolve_workload

#: (workload, budget fraction, peak LR): a few hundred steps each.
WORKLOADS = (("mnist1d-cnn", 0.25, 0.03), ("stdlib-gpt", 0.1, 0.003))
SPECS = ("cosine(warmup=0.05)", "linear(warmup=0.05)")
SEED = 0


def bare_steps_per_second(spec: str, workload_spec: str, budget: float, lr: float) -> float:
    workload = resolve_workload(workload_spec)
    workload.prepare()
    steps = budget_steps(workload.full_budget, budget)
    torch.manual_seed(SEED)
    model = workload.build_model().to(workload.device())
    optimizer = workload.make_optimizer(model.parameters(), lr)
    batches = workload.batches(torch.Generator().manual_seed(SEED))
    lrs = (lr * budgetlr.schedule(spec, steps).multiplier(range(steps))).tolist()
    start = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = lrs[step]
        loss = workload.loss(model, next(batches))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    float(loss.detach())  # wait for the device, as the trial's last read of its losses does
    return steps / (time.perf_counter() - start)


def trial_steps_per_second(spec: str, workload_spec: str, budget: float, lr: float) -> float:
    return run_trial(TrialConfig(workload_spec, spec, budget, lr, SEED)).steps_per_second


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [(spec, *workload) for workload in WORKLOADS for spec in SPECS]
    for case in cases:  # warm up: data generation, caches, first-call costs
        bare_steps_per_second(*case)
        trial_steps_per_second(*case)
    rates: dict[tuple[str, str], list[tuple[float, float]]] = {case[:2]: [] for case in cases}
    for repeat in range(args.repeats):
        for case in cases:
            if repeat % 2:  # alternate which goes first, so drift does not favour one
                trial = trial_steps_per_second(*case)
                bare = bare_steps_per_second(*case)
            else:
                bare = bare_steps_per_second(*case)
                trial = trial_steps_per_second(*case)
            rates[case[:2]].append((bare, trial))
    print(f"trial against a bare loop, training steps/s, one torch thread, {args.repeats} pairs")
    print(
        "| workload | trial | steps | bare loop: median, best | trial: median, best "
        "| trial / bare: median of pairs, of the bests |"
    )
    print("|---|---|---|---|---|---|")
    for spec, workload, budget, _ in cases:
        pairs = rates[spec, workload]
        bare = [b for b, _ in pairs]
        trial = [t for _, t in pairs]
        steps = budget_steps(resolve_workload(workload).full_budget, budget)
        print(
            f"| {workload} | {spec} | {steps} | {statistics.median(bare):.1f}, {max(bare):.1f} "
            f"| {statistics.median(trial):.1f}, {max(trial):.1f} "
            f"| {statistics.median(t / b for b, t in pairs):.3f}, {max(trial) / max(bare):.3f} |"
        )


if __name__ == "__main__":
    main()
