"""Helpers shared by the tests that interrupt sweeps or hide optional packages."""

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")


def stored_keys(out: Path) -> list[str]:
    with sqlite3.connect(Path(out) / "results.db") as connection:
        return [row[0] for row in connection.execute("SELECT key FROM trials")]


def count_stored(out: Path) -> int:
    """Trials stored so far; 0 while the sweep has not yet created its database and tables."""
    try:
        return len(stored_keys(out)) if (Path(out) / "results.db").exists() else 0
    except sqlite3.OperationalError:
        return 0


def start_and_stop(command: list[str], out: Path, stored: int, sig: signal.Signals) -> subprocess.Popen:
    """Start ``command`` in its own process group, wait until ``out`` holds ``stored`` trials, then
    send ``sig`` to the whole group (what a terminal's Ctrl-C does, or kill -9)."""
    process = subprocess.Popen(
        command,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # A terminal's default; a shell running a job in the background (as CI may) ignores SIGINT.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and count_stored(out) < stored:
        time.sleep(0.2)
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
