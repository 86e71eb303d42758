"""Stored trials as the planner's runs: seeds averaged with their standard error, the LR replayed
from the schedule, coarse curves left out in one line; ``budgetlr export-runs`` as a user runs it."""

import math

import numpy as np
import pytest

from budgetlr import schedule
from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult
from budgetlr.bench.runs import Selection, stored_runs
from budgetlr.bench.store import Store
from budgetlr.cli import main
from budgetlr.plan import read_run
from tests.helpers import store_synthetic_trials

EVERY, STEPS = 4, 100  # quadratic at budget 0.05: 100 steps, a point every 4


def loss(step, seed):
    return 1.0 + seed / 100 + 1.0 / step


def store_fine_curves(out):
    lrs = schedule("cosine", STEPS).lr(np.arange(STEPS), 0.1)
    with Store(out) as store:
        for seed in (0, 1, 2):
            curve = [
                CurvePoint(end, loss(end, seed), None, float(lrs[end - 1]))
                for end in range(EVERY, STEPS + 1, EVERY)
            ]
            config = TrialConfig("quadratic", "cosine", 0.05, 0.1, seed)
            store.save(TrialResult(config, STEPS, "ok", 0.5, 0.5, 1.0, 100.0, curve, {}), "loss", False)


def test_seeds_are_averaged_with_their_standard_error_and_the_lr_is_the_schedules(tmp_path):
    store_fine_curves(tmp_path)
    with Store.existing(tmp_path) as store:
        runs, skipped = stored_runs(store)
    assert skipped == [] and len(runs) == 1
    run = runs[0]
    assert run.name == "quadratic_cosine_budget_0.05_lr_0.1"
    # The point stored at step 4 (the mean over steps 0..3) is the loss at step 3.
    assert run.steps.tolist() == list(range(EVERY - 1, STEPS, EVERY))
    np.testing.assert_allclose(run.losses, [loss(step + 1, 1) for step in run.steps], rtol=1e-6)
    np.testing.assert_allclose(run.spread, 0.01 / math.sqrt(3), rtol=1e-4)  # seeds 0.00, 0.01, 0.02 apart
    np.testing.assert_allclose(run.lrs, schedule("cosine", STEPS).lr(np.arange(STEPS), 0.1))
    with Store.existing(tmp_path) as store:
        one, _ = stored_runs(store, Selection(seed=2))
    assert one[0].spread is None and one[0].losses[0] == pytest.approx(loss(4, 2))


def test_a_coarse_curve_is_left_out_in_one_line(tmp_path):
    store_synthetic_trials(tmp_path)
    with Store.existing(tmp_path) as store:
        runs, skipped = stored_runs(store)
    assert runs == [] and skipped == [
        f"quadratic, {name}, budget 0.05, lr 0.1: trial {key}'s curve holds 1 points, "
        "too coarse for a loss-curve law (it needs 20): record the run with budgetlr.recording instead"
        for name, key in (
            ("cosine", skipped[0].split("trial ")[1][:8]),
            ("linear", skipped[1].split("trial ")[1][:8]),
        )
    ]


def test_export_runs_as_a_user_would(tmp_path, capsys):
    store_fine_curves(tmp_path / "db")
    assert main(["export-runs", "--out", str(tmp_path / "db"), str(tmp_path / "runs")]) == 0
    assert capsys.readouterr().out == f"wrote 1 runs to {tmp_path / 'runs'}\n"
    run = read_run(tmp_path / "runs" / "quadratic_cosine_budget_0.05_lr_0.1.csv")
    assert run.total_steps == STEPS and run.spread is not None
    before = (tmp_path / "runs" / "quadratic_cosine_budget_0.05_lr_0.1.csv").read_text()
    assert main(["export-runs", "--out", str(tmp_path / "db"), str(tmp_path / "runs")]) == 2
    assert "exists: budgetlr never writes over a run" in capsys.readouterr().err
    assert (tmp_path / "runs" / "quadratic_cosine_budget_0.05_lr_0.1.csv").read_text() == before
    assert main(["export-runs", "--out", str(tmp_path / "db"), str(tmp_path / "other"), "--lr", "0.3"]) == 2
    assert capsys.readouterr().err == "budgetlr: error: no finished trial matches the selection\n"
    store_synthetic_trials(tmp_path / "coarse")
    assert main(["export-runs", "--out", str(tmp_path / "coarse"), str(tmp_path / "none")]) == 2
    error = capsys.readouterr().err
    assert (
        error.count("\n") == 1
        and "no run to write: 2 settings left out, the first: quadratic, cosine" in error
    )
    assert not (tmp_path / "none").exists()
