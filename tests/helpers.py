"""Helpers shared by the tests that interrupt sweeps or hide optional packages."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing, contextmanager
from pathlib import Path

from tests.bench.gated_workload import GATE, PASSES

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")
ROOT = Path(__file__).resolve().parent.parent
#: A quadratic sweep's workload whose trials wait at a gate (tests/bench/gated_workload.py).
GATED = "tests.bench.gated_workload:GatedQuadratic(dim=8)"


def command_env(**variables: str) -> dict[str, str]:
    """The environment for running the CLI in a child process that can import this tests package."""
    return {**os.environ, "PYTHONPATH": str(ROOT), **variables}


def stored_keys(out: Path) -> list[str]:
    """The keys of the trials in ``out``'s database, read as a reader that cannot write: a closing
    read-write connection seen early in a sweep once left its later trials unreadable."""
    database = (Path(out) / "results.db").resolve()
    with closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as connection:
        return [row[0] for row in connection.execute("SELECT key FROM trials")]


def count_stored(out: Path) -> int:
    """Trials stored so far; 0 while the sweep has not yet created its database and tables."""
    try:
        return len(stored_keys(out)) if (Path(out) / "results.db").exists() else 0
    except sqlite3.OperationalError:
        return 0


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    """Poll ``condition`` while ``process`` runs; a process that ends first, or 10 minutes without
    the condition, fails the test with what the process printed."""
    deadline = time.monotonic() + 600
    while not condition():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            out, err = process.communicate()
            raise AssertionError(f"{what} never happened (exit {process.returncode}): {out} {err}")
        time.sleep(0.1)


def start_and_stop(
    command: list[str], out: Path, stored: int, sig: signal.Signals, gate: Path
) -> subprocess.Popen:
    """Start ``command``, a sweep of the ``GATED`` workload, in its own process group with a gate in
    the new folder ``gate`` that lets ``stored`` trials through; once they are stored, send ``sig`` to
    the whole group (what a terminal's Ctrl-C does, or kill -9). The other trials wait at the gate,
    so the sweep cannot finish before the signal."""
    gate.mkdir()
    process = subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=command_env(**{GATE: str(gate), PASSES: str(stored)}),
        # A terminal's default; a shell running a job in the background (as CI may) ignores SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    wait_until(lambda: count_stored(out) >= stored, process, f"{stored} stored trials")
    os.killpg(process.pid, sig)
    return process


def hide_module(monkeypatch, prefix: str) -> None:
    """Make budgetlr's optional imports of ``prefix`` fail as if the package were not installed."""
    import budgetlr._extras

    real = budgetlr._extras.importlib.import_module

    def import_module(name, *args):
        if name.startswith(prefix):
            raise ModuleNotFoundError(name=name)
        return real(name, *args)

    monkeypatch.setattr(budgetlr._extras.importlib, "import_module", import_module)


def store_synthetic_trials(out: Path) -> list[str]:
    """Eight trials of quadratic at budget 0.05 (100 steps), stored without training: cosine and
    linear at LR 0.1, finished with validation and test loss ``0.4 + seed / 100`` (linear 0.1 more),
    and at LR 1e30, every seed diverged after 7 steps. Returns their keys."""
    from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult
    from budgetlr.bench.store import Store

    with Store(out) as store:
        for schedule in ("cosine", "linear"):
            for lr in (0.1, 1e30):
                for seed in (0, 1):
                    ok = lr < 1
                    config = TrialConfig("quadratic", schedule, 0.05, lr, seed)
                    test = 0.4 + (schedule == "linear") / 10 + seed / 100
                    result = TrialResult(
                        config, 100 if ok else 7, "ok" if ok else "diverged", test if ok else None,
                        test if ok else None, 1.0, 100.0, [CurvePoint(100 if ok else 7, 0.5, None, 0.0)],
                        {"l2": [1.0 / (1 + k) for k in range(100 if ok else 7)]},
                    )  # fmt: skip
                    store.save(result, "loss", False)
        return [t.key for t in store.trials()]


@contextmanager
def float64_in_jax():
    """JAX computes in float64 inside the block (jax.enable_x64 is newer than the jax floor)."""
    import jax

    before = jax.config.jax_enable_x64
    jax.config.update("jax_enable_x64", True)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", before)


def store_and_die(out: Path) -> None:
    """The eight synthetic trials of :func:`store_synthetic_trials`, stored by a process that dies
    (as kill -9 leaves it) before it closes the database: they are in its write-ahead log alone."""
    script = (
        "import os, sys, budgetlr.bench.store as store\n"
        "store.Store.close = lambda self: os._exit(0)\n"
        "from tests.helpers import store_synthetic_trials\n"
        "store_synthetic_trials(sys.argv[1])\n"
    )
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, cwd=Path(__file__).parents[1])
