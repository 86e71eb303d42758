"""A short run of the fair suite as a user starts it: LR grids refined to sqrt(2), every trial's
curve dense enough for the planner, and the planner's database reader fitting a law to it."""

import math

import pytest

from budgetlr.bench.runs import Selection, stored_runs
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.cli import main
from budgetlr.plan.fitting import fit
from budgetlr.study import analysis, lr_grid


@pytest.mark.slow
def test_a_short_run_of_the_fair_suite_refines_its_grids_and_keeps_curves_the_planner_fits(tmp_path, capsys):
    schedules = "constant(warmup=0.05),cosine(warmup=0.05)"
    args = ["bench", "--suite", "fair", "--workload", "quadratic", "--budgets", "0.1", "--seeds", "0,1",
            "--schedules", schedules, "--out", str(tmp_path), "--no-report", "--quiet"]  # fmt: skip
    assert main(args) == 0
    assert "LR grids refined in" in capsys.readouterr().out
    with Store.existing(tmp_path) as store:
        trials = store.trials()
        curves = {t.key: store.curve(t.key) for t in trials}
        runs, skipped = stored_runs(store, Selection(lr=0.025))
    # 200 steps: a training-loss point for the first step and every 2 steps, a validation every 10
    for trial in trials:
        if trial.status == "ok":
            assert sum(p.train_loss is not None for p in curves[trial.key]) == 101
            assert sum(p.val_loss is not None for p in curves[trial.key]) == 21
    cells = analysis.cells(trials)
    assert len(cells) == 2 and len({t.lr for t in trials}) > 4  # the coarse grid's 4 LRs, and more
    for cell in cells:
        assert "neighbours over sqrt(2) apart" not in lr_grid.flags(cell.val_by_lr, cell.tuned_lr)
        grid = sorted(cell.val_by_lr)
        index = grid.index(cell.tuned_lr)
        for neighbour in grid[max(index - 1, 0) : index] + grid[index + 1 : index + 2]:
            assert max(neighbour, cell.tuned_lr) / min(neighbour, cell.tuned_lr) <= math.sqrt(2) * 1.001
    assert skipped == [] and {run.name.split("_")[1] for run in runs} == {"constant", "cosine"}
    law = fit(runs, "mpl", replicates=2)
    assert [run.points for run in law.runs] == [101, 101]
    assert all(math.isfinite(value) for value in law.parameters.values())


@pytest.mark.parametrize(
    "workload, epochs",
    [
        ("digits-cnn", 1000 * 32 / (1797 - 360 - 360)),  # steps x batch / training images
        ("stdlib-gpt-long", 5000 * 16 * 32 / 4_000_000),  # steps x windows x bytes / training bytes
        ("quadratic", None),  # fresh samples at every step
        ("mnist1d-mlp(samples=1000)", 2000 * 64 / (1000 - 125 - 200)),  # counted, not generated
    ],
)
def test_a_workload_says_how_many_passes_over_its_training_data_its_full_budget_makes(workload, epochs):
    assert resolve_workload(workload).epochs() == (None if epochs is None else pytest.approx(epochs))


def test_mnist1ds_training_examples_counted_without_the_data_are_those_its_generator_makes():
    workload = resolve_workload("mnist1d-cnn(samples=1000)")
    assert workload.train_examples() == len(workload.splits()["train"][1]) == 675


def test_a_snapshot_of_a_running_fair_study_keeps_every_trial_and_curve_for_the_next_sitting(tmp_path):
    import sqlite3
    import subprocess
    from pathlib import Path

    from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult

    out = tmp_path / "fair"
    configs = [TrialConfig("quadratic", "linear(warmup=0.05)", 0.1, lr, 0) for lr in (0.025, 0.05)]
    with Store(out) as store:  # left open, as a running sweep leaves it
        for config in configs:
            curve = [CurvePoint(step, 1.0 / step, None, 0.01) for step in range(1, 201)]
            store.save(
                TrialResult(config, 200, "ok", 0.5, 0.5, 1.0, 200.0, curve, {"l2": [1.0] * 200}),
                "loss",
                False,
            )
        snapshot = tmp_path / "snapshot.db"
        script = Path(__file__).resolve().parents[2] / "benchmarks" / "fair_study.sh"
        done = subprocess.run(
            [script, "--snapshot", str(out)], env={"FAIR_SNAPSHOT": str(snapshot), "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
    copy = sqlite3.connect(snapshot)
    assert copy.execute("SELECT count(*) FROM trials").fetchone() == (2,)
    assert copy.execute("SELECT count(*) FROM grad_norms").fetchone() == (0,)
    with Store.existing(tmp_path / "fair") as store:
        expected = {c.key(): store.curve(c.key()) for c in configs}
    (tmp_path / "next").mkdir()
    snapshot.rename(tmp_path / "next" / "results.db")
    with Store.existing(tmp_path / "next") as store:
        assert store.done_keys() == set(expected)
        assert all(store.curve(key) == curve for key, curve in expected.items())
