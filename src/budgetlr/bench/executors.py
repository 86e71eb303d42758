"""Where a sweep's trials run: a pool of local worker processes, or Ray tasks on a cluster.

Workers run one trial at a time with one torch thread each, set before torch is imported: two
1-thread processes beat one 2-thread process, and oversubscription is many times slower. So this
module imports no torch: a local worker inherits the thread variables from its parent, and a Ray
worker, which imports this module to unpickle :func:`run_one`, sets them in
:func:`limit_threads` before its trial imports torch. Both pools take jobs one at a time
(``submit``) and hand back results as they finish (``next_result``), so a sweep claims only as
many trials as it has idle workers.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.pool
import os
import queue
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from budgetlr._extras import require
from budgetlr.bench.runner import TrialConfig, TrialResult, run_trial
from budgetlr.errors import InvalidInput

#: A trial and the gradient norms it refines (None unless it is a ``refined`` trial).
Job = tuple[TrialConfig, list[float] | None]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
RAY_SINGLE_MACHINE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


class LocalPool:
    """``workers`` fresh (spawned) processes of one torch thread, started at the first job; the
    parent stores results as they arrive. Workers ignore Ctrl-C: the parent alone takes it and
    terminates them, so the sweep stops cleanly."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.running = 0
        self.results: queue.Queue[TrialResult | BaseException] = queue.Queue()
        self.pool: multiprocessing.pool.Pool | None = None
        self.saved = {v: os.environ.get(v) for v in THREAD_VARIABLES}

    @property
    def idle(self) -> int:
        return self.workers - self.running

    def submit(self, job: Job) -> None:
        if self.pool is None:
            os.environ.update({v: "1" for v in THREAD_VARIABLES})  # inherited by the spawned workers
            self.pool = multiprocessing.get_context("spawn").Pool(self.workers, initializer=start_worker)
        self.pool.apply_async(run_one, (job,), callback=self.results.put, error_callback=self.results.put)
        self.running += 1

    def next_result(self, timeout: float | None) -> TrialResult | None:
        """The next finished trial, or None if none finishes within ``timeout`` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            try:  # short waits: Ctrl-C is taken between them
                result = self.results.get(timeout=0.2)
            except queue.Empty:
                continue
            self.running -= 1
            if isinstance(result, BaseException):
                raise result
            return result
        return None

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        try:
            if self.pool is not None:
                if kind is None:
                    self.pool.close()
                else:
                    self.pool.terminate()
                self.pool.join()
        finally:
            for variable, value in self.saved.items():
                if value is None:
                    os.environ.pop(variable, None)
                else:
                    os.environ[variable] = value


class RayPool:
    """Ray tasks of one CPU each on the cluster at ``address`` (a local one when None), as many at
    once as the cluster has CPUs; connected at the first job."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.pending: list[Any] = []
        self.task: Any = None
        self.cpus = 0

    @property
    def running(self) -> int:
        return len(self.pending)

    @property
    def idle(self) -> int:
        if self.task is None:
            self.connect()
        return max(self.cpus - self.running, 0)

    def connect(self) -> None:
        if self.address is None:
            # Ray's single-machine mode: every address it uses is loopback, none of this machine's interfaces.
            os.environ.setdefault(RAY_SINGLE_MACHINE, "0")
        import ray

        connect_ray(self.address)
        self.task = ray.remote(num_cpus=1)(run_one)
        self.cpus = max(int(ray.cluster_resources().get("CPU", 1)), 1)

    def submit(self, job: Job) -> None:
        self.pending.append(self.task.remote(job))

    def next_result(self, timeout: float | None) -> TrialResult | None:
        import ray

        finished, self.pending = ray.wait(self.pending, num_returns=1, timeout=timeout)
        return ray.get(finished[0]) if finished else None

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.task is not None:
            import ray

            ray.shutdown()


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


def start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    threading.Thread(target=exit_with_parent, args=(parent,), name="budgetlr-parent", daemon=True).start()
    limit_threads()


def exit_with_parent(parent: int) -> None:
    """End this worker as soon as its parent is gone (killed with -9, say): nobody would store
    its result."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


@dataclass(frozen=True)
class Execution:
    """How a sweep runs its trials: ``local`` processes (``workers`` of them, default one per core)
    or tasks on the Ray cluster at ``address`` (a local one when None); ``progress`` shows a bar."""

    executor: Literal["local", "ray"] = "local"
    workers: int | None = None
    address: str | None = None
    progress: bool = True
    #: The pool every sweep under :meth:`keeping_workers` runs on.
    kept: LocalPool | RayPool | None = field(default=None, compare=False, repr=False)

    def check(self) -> None:
        """Refuse, before anything is stored, an executor whose extra is missing."""
        if self.executor == "ray":
            require("ray", "ray", "--executor ray")

    def pool(self, jobs: int) -> AbstractContextManager[LocalPool | RayPool]:
        """Where ``jobs`` trials run: the kept pool, or a new one closed when the sweep ends."""
        if self.kept is not None:
            return contextlib.nullcontext(self.kept)
        if self.executor == "ray":
            return RayPool(self.address)
        return LocalPool(min(self.workers or os.cpu_count() or 1, jobs))

    @contextlib.contextmanager
    def keeping_workers(self, jobs: int) -> Iterator[Execution]:
        """This execution with one pool, sized for ``jobs`` trials at once, that every sweep run
        under it shares: a tuner's many small sweeps start their workers once, not each time."""
        with self.pool(jobs) as pool:
            yield replace(self, kept=pool)


#: Local processes, one per core, with a progress bar.
LOCAL = Execution()


def connect_ray(address: str | None) -> None:
    """``ray.init`` on the cluster at ``address`` (a local one when None), or a one-line
    ``ValueError`` saying why it cannot connect: nothing listening there, or authentication."""
    import ray

    if address is not None and address != "auto":
        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=10).close()
        except ValueError:
            raise InvalidInput(f"--address {address!r} must be HOST:PORT, e.g. 10.0.0.5:6379") from None
        except OSError as error:
            raise InvalidInput(
                f"cannot reach a Ray head at {address} ({error.strerror or error}): start one there with "
                "`ray start --head --node-ip-address HOST --port PORT` and check the address"
            ) from None
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    except (ConnectionError, TimeoutError, ray.exceptions.RayError) as error:
        if isinstance(error, ray.exceptions.AuthenticationError):  # raised by the driver's own settings
            reason = (
                "this driver runs with token authentication (RAY_AUTH_MODE=token) but has no token: give it "
                "the head's (RAY_AUTH_TOKEN), or set RAY_AUTH_MODE=disabled for a head without authentication"
            )
        else:
            reason = f"{str(error).splitlines()[0]}; if the head uses token authentication, give this driver its token (RAY_AUTH_TOKEN), or run both with RAY_AUTH_MODE=disabled"
        raise InvalidInput(f"cannot connect to the Ray cluster at {address}: {reason}") from None
