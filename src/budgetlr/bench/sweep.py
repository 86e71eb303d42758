"""Sweeps: the plan (workloads x schedules x budgets x peak LRs x seeds), and running it.

Trials already in the store are skipped, so rerunning an interrupted sweep resumes it. Sweeps
sharing a results folder claim each trial before running it, a few at a time, so together they
run it once and each takes its share; a killed sweep's claims expire after ``LEASE_SECONDS`` and
the others take its trials over. The trials run in :mod:`budgetlr.bench.executors`. This module
imports no torch (the workloads are imported inside the functions that plan), for the reason
given there.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from budgetlr.bench.executors import LOCAL, Execution, Job
from budgetlr.bench.methods import MethodKind, check_schedule_free, method, source_of
from budgetlr.bench.runner import (
    TrialConfig,
    TrialResult,
    budget_steps,
    check_budget,
    check_lr,
    check_seed,
)
from budgetlr.bench.store import Store
from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import check_total_steps

#: A sweep's claim on its trials lasts this long unless renewed; it renews a third of the way in.
#: ``BUDGETLR_LEASE_SECONDS`` overrides it (tests shorten it to see a killed sweep's trials freed).
LEASE_SECONDS = 60.0
LEASE_VARIABLE = "BUDGETLR_LEASE_SECONDS"
#: How often a sweep with idle workers looks for trials that other sweeps have freed.
CLAIM_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class SweepPlan:
    """Every trial of a sweep. ``lrs`` maps each workload spec to its peak-LR grid."""

    workloads: tuple[str, ...]
    schedules: tuple[str, ...]
    budgets: tuple[float, ...]
    lrs: dict[str, tuple[float, ...]] = field(hash=False)
    seeds: tuple[int, ...]

    def trials(self) -> list[TrialConfig]:
        """All trials, longest budgets first (so that the pool's last trials are short ones),
        with the runs that ``refined`` trials refine added if the plan lacks them."""
        planned = [
            TrialConfig(w, s, b, lr, seed)
            for b in sorted(self.budgets, reverse=True)
            for w in self.workloads
            for s in self.schedules
            for lr in self.lrs[w]
            for seed in self.seeds
        ]
        sources = [source for c in planned if (source := source_of(c)) is not None]
        return list(dict.fromkeys(planned + sources))


def make_plan(
    workloads: Sequence[str],
    schedules: Sequence[str],
    budgets: Sequence[float],
    seeds: Sequence[int],
    lrs: Sequence[float] | None = None,
    grids: dict[str, tuple[float, ...]] | None = None,
) -> SweepPlan:
    """Check every part of a plan and put its specs in canonical form; bad input raises
    ``ValueError`` naming it, before anything is run or stored. Each workload's LR grid is
    ``lrs``, else its entry in ``grids`` (keyed by canonical workload spec), else its own."""
    from budgetlr.bench.workloads import check_findable, resolve_workload  # torch: see the docstring

    resolved = [resolve_workload(w) for w in workloads]
    if not resolved:
        raise InvalidInput("a sweep needs at least one workload")
    for workload in resolved:
        check_findable(workload)
    parsed = [method(s) for s in schedules]
    if not parsed:
        raise InvalidInput("a sweep needs at least one schedule")
    for budget in budgets:
        check_budget(budget)
    if not budgets:
        raise InvalidInput("a sweep needs at least one budget")
    if not seeds:
        raise InvalidInput("a sweep needs at least one seed")
    for seed in seeds:
        check_seed(seed)
    for workload in resolved:
        if any(m.kind == MethodKind.SCHEDULE_FREE for m in parsed):
            check_schedule_free(workload)
        for budget in budgets:
            steps = check_total_steps(budget_steps(workload.full_budget, budget))
            for schedule in parsed:
                try:
                    schedule.validate(steps)
                except ValueError as error:
                    raise InvalidInput(
                        f"{schedule.spec} at budget {budget} of {workload} ({steps} steps): {error}"
                    ) from None
    names = tuple(dict.fromkeys(str(w) for w in resolved))
    grids = {str(w): tuple(lrs) if lrs else (grids or {}).get(str(w), w.lrs) for w in resolved}
    for grid in grids.values():
        for lr in grid:
            check_lr(lr)
    return SweepPlan(
        names,
        tuple(dict.fromkeys(s.spec for s in parsed)),
        tuple(dict.fromkeys(budgets)),
        grids,
        tuple(dict.fromkeys(seeds)),
    )


@dataclass
class SweepSummary:
    planned: int
    already_stored: int
    ran: int
    diverged: int
    #: Planned trials stored only under another key, so run again: by the trial semantics they
    #: were made under, or None where the workload's data changed (see :meth:`Store.not_reused`).
    not_reused: Counter[int | None] = field(default_factory=Counter)
    #: trials another sweep on the same folder ran while this one waited for them
    ran_elsewhere: int = 0


def run_sweep(plan: SweepPlan | Sequence[SweepPlan], out: Path, execution: Execution = LOCAL) -> SweepSummary:
    """Run the trials of ``plan`` (or of several plans, one after the other, a trial they share
    once) that ``out``'s database lacks, storing each as it finishes."""
    plans = [plan] if isinstance(plan, SweepPlan) else plan
    trials = list(dict.fromkeys(config for p in plans for config in p.trials()))
    return run_configs(trials, out, execution)


def run_configs(configs: list[TrialConfig], out: Path, execution: Execution = LOCAL) -> SweepSummary:
    """Run the ``configs`` that ``out``'s database lacks, storing each as it finishes."""
    from budgetlr.bench.workloads import resolve_workload

    execution.check()
    workloads = {w: resolve_workload(w) for w in {c.workload for c in configs}}
    with stop_on_sigterm(), Store(out) as store, lease(store) as owner:
        done = store.done_keys()
        todo = [c for c in configs if c.key() not in done]
        summary = SweepSummary(len(configs), len(configs) - len(todo), 0, 0, store.not_reused(todo))
        sources = {c: source for c in todo if (source := source_of(c)) is not None}
        missing = [s for s in sources.values() if s.key() not in done]
        first = list(dict.fromkeys([c for c in todo if c not in sources] + missing))
        bar = progress_bar(len(first) + len(sources), execution.progress)

        def record(result: TrialResult) -> None:
            workload = workloads[result.config.workload]
            store.save(result, workload.metric, workload.higher_is_better)
            summary.ran += 1
            summary.diverged += result.status == "diverged"
            bar.set_postfix_str(
                f"{result.config.workload} {result.config.schedule} b={result.config.budget}", refresh=False
            )
            bar.update()

        def run_claimed(jobs: list[Job]) -> None:
            summary.ran_elsewhere += claim_and_run(store, owner, jobs, record, execution)

        try:
            run_claimed([(c, None) for c in first])
            jobs = []
            for config, source in sources.items():
                workload = workloads[config.workload]
                norms = store.grad_norms(source.key(), workload.refinement.norm)
                if norms is None or len(norms) < budget_steps(workload.full_budget, config.budget):
                    # The source run diverged: there is nothing to refine, so the trial fails too.
                    record(
                        TrialResult(config, 0, "diverged", None, None, 0.0, 0.0, notes={"source": "diverged"})
                    )
                else:
                    jobs.append((config, norms.tolist()))
            run_claimed(jobs)
        finally:
            bar.close()
    return summary


@contextmanager
def stop_on_sigterm() -> Iterator[None]:
    """Take SIGTERM (``kill``, a cluster's scheduler at the end of a job) as Ctrl-C while the block
    runs, so that a terminated sweep stops as an interrupted one does: its claims released and its
    log moved into the database."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def lease_seconds() -> float:
    return float(os.environ.get(LEASE_VARIABLE, LEASE_SECONDS))


@contextmanager
def lease(store: Store) -> Iterator[str]:
    """A unique owner name whose claims a background thread renews until the block ends; then
    its unfinished claims are released. If the process dies, they expire on their own."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    seconds = lease_seconds()
    stop = threading.Event()

    def renew() -> None:
        with Store(store.path.parent) as own:  # a connection belongs to the thread that made it
            while not stop.wait(seconds / 3):
                own.renew(owner, seconds)

    renewer = threading.Thread(target=renew, name="budgetlr-lease", daemon=True)
    renewer.start()
    try:
        yield owner
    finally:
        stop.set()
        renewer.join()
        store.release(owner)


def claim_and_run(
    store: Store,
    owner: str,
    jobs: list[Job],
    record: Callable[[TrialResult], None],
    execution: Execution,
) -> int:
    """Run those of ``jobs`` this sweep can claim, claiming only as many as it has idle workers,
    so that other sweeps on the folder (on this machine or another) take their share as they
    go; wait for those another live sweep holds, and take them over if its lease expires.
    Returns how many the other sweeps stored."""
    pending = {config.key(): (config, norms) for config, norms in jobs}
    elsewhere = 0
    if not pending:
        return elsewhere
    with execution.pool(len(pending)) as pool:
        while pending or pool.running:
            if pending and pool.idle:
                stored = store.done_keys() & pending.keys()
                elsewhere += len(stored)
                for key in stored:
                    del pending[key]
                for key in store.claim(pending, owner, lease_seconds(), limit=pool.idle):
                    pool.submit(pending.pop(key))
            if pool.running:
                # While other sweeps hold the rest, look again each second for any they free.
                result = pool.next_result(CLAIM_POLL_SECONDS if pending and pool.idle else None)
                if result is not None:
                    record(result)
            elif pending:
                time.sleep(min(CLAIM_POLL_SECONDS, lease_seconds() / 3))
    return elsewhere


def progress_bar(total: int, enabled: bool, desc: str = "budgetlr bench", unit: str = "trial"):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        disable=not enabled or total == 0,
        dynamic_ncols=True,
    )
