"""``budgetlr bench``, ``report`` and ``export`` as a user runs them."""

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from budgetlr.bench.store import Store
from budgetlr.cli import main

#: Every test here trains a model, starts Ray or runs the CLI's sweeps.
pytestmark = pytest.mark.slow

BUDGETLR = str(Path(sys.executable).parent / "budgetlr")


def test_the_readmes_sweep_by_hand_stores_its_trials_and_writes_the_report(tmp_path):
    # The README's first session runs this command (tests/test_docs_examples.py); here, what it makes.
    out = tmp_path / "sweep"
    command = [BUDGETLR, "bench", "--workload", "quadratic", "--schedules", "cosine,uba(phi=0.5)",
               "--budgets", "0.1", "--lrs", "0.03,0.1", "--seeds", "0,1", "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "8 trials planned: 0 already stored, 8 run now" in result.stdout
    assert "budgetlr bench: 100%" in result.stderr  # the progress bar
    with Store(out) as store:
        trials = store.trials()
    assert len(trials) == 8 and {t.steps for t in trials} == {200}
    assert {t.schedule for t in trials} == {"cosine", "uba(phi=0.5)"}
    assert all(t.status == "ok" and t.test_metric > 0 for t in trials)  # the excess risk
    report = (out / "report.md").read_text()
    assert "## quadratic" in report and "plots/quadratic-budget.png" in report
    assert (out / "report.html").is_file() and (out / "plots" / "quadratic-curves.png").is_file()


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    out = tmp_path_factory.mktemp("db")
    args = ["bench", "--workload", "quadratic(dim=8)", "--schedules", "cosine,constant", "--budgets", "0.05",
            "--lrs", "0.1,0.3", "--seeds", "0,1", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(args) == 0
    return out


def fingerprint(out):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir()) if p.is_file()}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "imagenet"], "unknown workload 'imagenet'"),
        (
            ["--workload", "quadratic", "--budgets", "0"],
            "budget 0.0 must be a fraction of the full budget in (0, 1]",
        ),
        (["--workload", "quadratic", "--budgets", "1.5"], "budget 1.5 must be a fraction"),
        (["--workload", "quadratic", "--budgets", "0.1,x"], "malformed budget list '0.1,x'"),
        (
            ["--workload", "quadratic", "--schedules", "cosine,,uba"],
            "malformed schedule list 'cosine,,uba': empty entry",
        ),
        (["--workload", "quadratic", "--schedules", "cosine,uba(phi=0.5"], "unbalanced brackets"),
        (["--workload", "quadratic", "--schedules", "cosine,ubaa"], "unknown schedule 'ubaa'"),
        (["--workload", "quadratic", "--lrs", "-1"], "peak LR -1.0 must be a positive number"),
        (["--workload", "quadratic", "--seeds", "a"], "malformed seed list 'a'"),
        (
            ["--workload", "quadratic", "--workers", "0"],
            "argument --workers: must be a whole number >= 1, got 0",
        ),
        (["--suite", "huge"], "invalid choice: 'huge'"),
        (["--workload", "quadratic", "--trials", "5"], "--trials goes with --tuner optuna"),
        (["--workload", "quadratic", "--address", "1.2.3.4:6379"], "--address goes with --executor ray"),
    ],
)
def test_bad_arguments_are_one_line_exit_2_and_leave_the_database_untouched(database, args, message, capsys):
    before = fingerprint(database)
    assert main(["bench", *args, "--out", str(database)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("budgetlr: error: ")
    assert message in captured.err
    assert fingerprint(database) == before


def test_export_writes_every_trial(database, tmp_path, capsys):
    target = tmp_path / "trials.csv"
    assert main(["export", "--out", str(database), str(target)]) == 0
    assert "wrote 8 trials" in capsys.readouterr().out
    with target.open() as handle:
        rows = list(csv.DictReader(handle))
    with Store(database) as store:
        trials = {t.key: t for t in store.trials()}
    assert len(rows) == 8
    for row in rows:
        assert float(row["test_metric"]) == trials[row["key"]].test_metric


def test_report_command_and_missing_database(database, tmp_path, capsys):
    assert main(["report", "--out", str(database)]) == 0
    assert (database / "report.html").is_file()
    assert main(["report", "--out", str(tmp_path / "none")]) == 2
    assert "no results database in" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()
