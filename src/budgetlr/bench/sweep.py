"""Sweeps: the plan (workloads x schedules x budgets x peak LRs x seeds) and its executors.

Trials already in the store are skipped, so rerunning an interrupted sweep resumes it. Workers
run one trial at a time with one torch thread each, set before torch is imported: two 1-thread
processes beat one 2-thread process, and oversubscription is many times slower.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from budgetlr.bench.methods import method, norm_kind, source_of
from budgetlr.bench.runner import TrialConfig, TrialResult, budget_steps, run_trial
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules.base import check_total_steps

T = TypeVar("T")
#: A trial and the gradient norms it refines (None unless it is a ``refined`` trial).
Job = tuple[TrialConfig, list[float] | None]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RAY_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


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
    resolved = [resolve_workload(w) for w in workloads]
    if not resolved:
        raise ValueError("a sweep needs at least one workload")
    parsed = [method(s) for s in schedules]
    if not parsed:
        raise ValueError("a sweep needs at least one schedule")
    for budget in budgets:
        if not (math.isfinite(budget) and 0.0 < budget <= 1.0):
            raise ValueError(f"budget {budget!r} must be a fraction of the full budget in (0, 1]")
    if not budgets:
        raise ValueError("a sweep needs at least one budget")
    for lr in lrs or ():
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"peak LR {lr!r} must be a positive number")
    if not seeds or any(seed < 0 for seed in seeds):
        raise ValueError(f"seeds {list(seeds)} must be one or more whole numbers >= 0")
    for workload in resolved:
        for budget in budgets:
            steps = check_total_steps(budget_steps(workload.full_budget, budget))
            for schedule in parsed:
                try:
                    schedule.validate(steps)
                except ValueError as error:
                    raise ValueError(
                        f"{schedule.spec} at budget {budget} of {workload} ({steps} steps): {error}"
                    ) from None
    names = tuple(dict.fromkeys(str(w) for w in resolved))
    grids = {str(w): tuple(lrs) if lrs else (grids or {}).get(str(w), w.lrs) for w in resolved}
    return SweepPlan(
        names,
        tuple(dict.fromkeys(s.spec for s in parsed)),
        tuple(dict.fromkeys(budgets)),
        grids,
        tuple(dict.fromkeys(seeds)),
    )


def parse_list(text: str, convert: Callable[[str], T], what: str) -> list[T]:
    """``"0.1,0.25"`` -> ``[0.1, 0.25]``, with an error naming ``what`` and the bad item."""
    items = [item.strip() for item in text.split(",")]
    try:
        return [convert(item) for item in items]
    except ValueError:
        raise ValueError(f"malformed {what} list {text!r}: expected comma-separated numbers") from None


@dataclass
class SweepSummary:
    planned: int
    already_stored: int
    ran: int
    diverged: int


def run_sweep(
    plan: SweepPlan,
    out: Path,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run the trials of ``plan`` that ``out``'s database lacks, storing each as it finishes."""
    return run_configs(plan.trials(), out, executor, workers, address, progress)


def run_configs(
    configs: list[TrialConfig],
    out: Path,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
) -> SweepSummary:
    """Run the ``configs`` that ``out``'s database lacks, storing each as it finishes."""
    workloads = {w: resolve_workload(w) for w in {c.workload for c in configs}}
    with Store(out) as store:
        done = store.done_keys()
        todo = [c for c in configs if c.key() not in done]
        summary = SweepSummary(len(configs), len(configs) - len(todo), 0, 0)
        sources = {c: source for c in todo if (source := source_of(c)) is not None}
        missing = [s for s in sources.values() if s.key() not in done]
        first = list(dict.fromkeys([c for c in todo if c not in sources] + missing))
        bar = progress_bar(len(first) + len(sources), progress)

        def record(result: TrialResult) -> None:
            workload = workloads[result.config.workload]
            store.save(result, workload.metric, workload.higher_is_better)
            summary.ran += 1
            summary.diverged += result.status == "diverged"
            bar.set_postfix_str(
                f"{result.config.workload} {result.config.schedule} b={result.config.budget}", refresh=False
            )
            bar.update()

        try:
            run_jobs([(c, None) for c in first], record, executor, workers, address)
            jobs = []
            for config, source in sources.items():
                workload = workloads[config.workload]
                norms = store.grad_norms(source.key(), norm_kind(workload))
                if norms is None or len(norms) < budget_steps(workload.full_budget, config.budget):
                    # The source run diverged: there is nothing to refine, so the trial fails too.
                    record(
                        TrialResult(config, 0, "diverged", None, None, 0.0, 0.0, notes={"source": "diverged"})
                    )
                else:
                    jobs.append((config, norms.tolist()))
            run_jobs(jobs, record, executor, workers, address)
        finally:
            bar.close()
    return summary


def run_jobs(
    jobs: list[Job],
    record: Callable[[TrialResult], None],
    executor: str,
    workers: int | None,
    address: str | None,
) -> None:
    if executor == "ray":
        run_on_ray(jobs, record, address)
    else:
        run_locally(jobs, record, workers or os.cpu_count() or 1)


def progress_bar(total: int, enabled: bool, desc: str = "budgetlr bench", unit: str = "trial"):
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=unit,
        desc=desc,
        disable=not enabled or total == 0,
        dynamic_ncols=True,
    )


def limit_threads() -> None:
    """Make this process use one torch thread; call it before torch is imported."""
    for variable in THREAD_VARIABLES:
        os.environ[variable] = "1"
    import torch

    torch.set_num_threads(1)


def run_one(job: Job) -> TrialResult:
    """A trial in a worker process: one torch thread, then the trial."""
    limit_threads()
    return run_trial(*job)


def run_locally(jobs: Iterable[Job], record: Callable[[TrialResult], None], workers: int) -> None:
    """A pool of fresh (spawned) processes; the parent stores results as they arrive. Workers
    ignore Ctrl-C: the parent alone takes it and terminates them, so the sweep stops cleanly."""
    jobs = list(jobs)
    if not jobs:
        return
    saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}
    os.environ.update({v: "1" for v in THREAD_VARIABLES})  # inherited by the spawned workers
    pool = multiprocessing.get_context("spawn").Pool(min(workers, len(jobs)), initializer=start_worker)
    try:
        for result in pool.imap_unordered(run_one, jobs, chunksize=1):
            record(result)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_threads()


def run_on_ray(jobs: Iterable[Job], record: Callable[[TrialResult], None], address: str | None) -> None:
    """Ray tasks of one CPU each on the cluster at ``address`` (a local one when None)."""
    if address is None:
        # Ray's single-machine mode: every address it uses is loopback, none of this machine's interfaces.
        os.environ.setdefault(RAY_SINGLE_MACHINE, "0")
    try:
        import ray
    except ImportError:
        raise ValueError("the ray executor needs Ray: pip install 'budgetlr[ray]'") from None
    jobs = list(jobs)
    if not jobs:
        return
    connect_ray(address)
    try:
        task = ray.remote(num_cpus=1)(run_one)
        pending = [task.remote(job) for job in jobs]
        while pending:
            finished, pending = ray.wait(pending, num_returns=1)
            for ref in finished:
                record(ray.get(ref))
    finally:
        ray.shutdown()


def connect_ray(address: str | None) -> None:
    """``ray.init`` on the cluster at ``address`` (a local one when None), or a one-line
    ``ValueError`` saying why it cannot connect: nothing listening there, or authentication."""
    import ray

    if address is not None and address != "auto":
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except ValueError:
            raise ValueError(f"--address {address!r} must be HOST:PORT, e.g. 10.0.0.5:6379") from None
        except OSError as error:
            raise ValueError(
                f"cannot reach a Ray head at {address} ({error.strerror or error}): start one there with "
                "`ray start --head --node-ip-address HOST --port PORT` and check the address"
            ) from None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    except (ConnectionError, TimeoutError, ray.exceptions.RayError) as error:
        if isinstance(error, ray.exceptions.AuthenticationError):
            reason = "it requires token authentication: give this driver the head's token (RAY_AUTH_TOKEN)"
        else:
            reason = f"{str(error).splitlines()[0]}; if the head uses token authentication, give this driver its token (RAY_AUTH_TOKEN), or run both with RAY_AUTH_MODE=disabled"
        raise ValueError(f"cannot connect to the Ray cluster at {address}: {reason}") from None
