"""A plug-in workload (``--workload module:attr``) runs as itself and is stored under a spec that
names where it came from, which every command that reads trials resolves again."""

import csv
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from budgetlr.bench.runner import run_trial
from budgetlr.bench.runs import Selection, stored_runs
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import make_plan
from budgetlr.bench.workloads import resolve_workload
from budgetlr.bench.workloads.quadratic import Quadratic
from budgetlr.cli import main
from tests.helpers import BUDGETLR, ROOT, command_env

SHORT = "tests.bench.custom_workload:ShortQuadratic(dim=8)"


@pytest.fixture(scope="module")
def short_sweep(tmp_path_factory) -> Path:
    """A sweep of ShortQuadratic (100 steps, where the built-in quadratic has 2,000), trained
    in this process and stored as a sweep stores it."""
    out = tmp_path_factory.mktemp("plugin")
    plan = make_plan([SHORT], ["cosine", "linear"], [0.5, 1.0], [0, 1], lrs=[0.1, 0.3])
    workload = resolve_workload(plan.workloads[0])
    with Store(out) as store:
        for config in plan.trials():
            store.save(run_trial(config), workload.metric, workload.higher_is_better)
    return out


def test_a_subclass_of_a_built_in_runs_as_itself_under_a_spec_naming_its_origin(short_sweep):
    with Store.existing(short_sweep) as store:
        trials = store.trials()
    assert {t.workload for t in trials} == {SHORT}
    assert {t.steps for t in trials} == {50, 100}, "its own budget, not the built-in quadratic's 2,000"


def test_every_command_that_reads_trials_finds_a_plug_ins_trials(short_sweep, tmp_path, capsys):
    assert main(["report", "--out", str(short_sweep), "--to", str(tmp_path / "report")]) == 0
    assert SHORT in (tmp_path / "report" / "report.md").read_text()
    assert main(["recommend", "--out", str(short_sweep), "--budget-fraction", "1", "--workload", SHORT]) == 0
    assert "over 1 workload(s): " + SHORT in capsys.readouterr().out
    assert main(["export", "--out", str(short_sweep), str(tmp_path / "t.csv")]) == 0
    with (tmp_path / "t.csv").open() as handle:
        assert {row["workload"] for row in csv.DictReader(handle)} == {SHORT}
    assert main(["export-runs", "--out", str(short_sweep), str(tmp_path / "runs"), "--workload", SHORT]) == 0
    # 2 schedules x 2 LRs x 2 budgets, seeds averaged: every trial's curve has a point per step
    assert len(list((tmp_path / "runs").glob("*.csv"))) == 8
    assert main(["results", "--out", str(short_sweep), "--write", str(tmp_path / "page.md")]) == 0
    assert SHORT in (tmp_path / "page.md").read_text()
    with Store.existing(short_sweep) as store:
        runs, _ = stored_runs(store, Selection(workload=SHORT, schedule="cosine", budget=1.0, lr=0.1))
    assert len(runs) == 1 and runs[0].lrs.size == 100


def test_a_workload_class_no_other_process_can_import_is_refused_before_anything_runs():
    @dataclass(frozen=True)
    class Local(Quadratic):
        full_budget: ClassVar[int] = 10

    with pytest.raises(
        ValueError, match=r"class Local is defined inside a function, where no other command can import it"
    ):
        make_plan([Local()], ["cosine"], [1.0], [0])


def docs_example() -> str:
    """The workload that docs/workloads.md shows, as a reader copies it."""
    text = (ROOT / "docs" / "workloads.md").read_text()
    return re.search(r"```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
def test_the_docs_plug_in_runs_end_to_end_through_bench_report_and_recommend(tmp_path):
    package = tmp_path / "mypackage"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "blobs.py").write_text(docs_example())
    env = {k: v for k, v in command_env().items() if k != "PYTHONPATH"}  # as a user runs it: from the folder

    def budgetlr(*args: str) -> str:
        done = subprocess.run(
            [BUDGETLR, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    budgetlr("bench", "--workload", "mypackage.blobs:Blobs(centres=4)", "--schedules", "cosine,linear",
             "--budgets", "0.5,1", "--lrs", "0.1", "--seeds", "0,1", "--workers", "1", "--quiet", "--no-report",
             "--out", "w")  # fmt: skip
    budgetlr("report", "--out", "w")
    assert "mypackage.blobs:Blobs(centres=4)" in (tmp_path / "w" / "report.md").read_text()
    advice = budgetlr(
        "recommend",
        "--out",
        "w",
        "--budget-fraction",
        "0.5",
        "--workload",
        "mypackage.blobs:Blobs(centres=4)",
    )
    assert "over 1 workload(s): mypackage.blobs:Blobs(centres=4)" in advice
