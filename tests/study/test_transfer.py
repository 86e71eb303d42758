"""The LR-transfer test on synthetic trials whose tuned LR follows lr*(T) = 0.35 T^-0.5 exactly
(loss 1 + log(lr / lr*)^2, a parabola in log LR that the tuned-LR refinement finds exactly)."""

import math

import pytest

from budgetlr.bench.store import Trial
from budgetlr.study.analysis import on_grid
from budgetlr.study.measurements import lr_transfer_section
from budgetlr.study.pages import page_text
from budgetlr.study.transfer import current, regret, transfer_configs, transfers

GRID = (0.1, 0.3, 1.0, 1.5)  # lr* is inside it at budgets 0.1 to 0.5


def trial(budget, lr, seed, schedule="cosine(warmup=0.05)"):
    value = (1 + math.log(lr / (0.35 * budget**-0.5)) ** 2) * (1 + seed / 1000)
    return Trial(
        f"{schedule}-{budget}-{lr}-{seed}", "0", 2, "quadratic", schedule, budget, lr, seed, 100, "ok",
        "excess_risk", False, value, value, 1.0, 100.0, "", val_loss=value, test_loss=value, test_loss_se=0.0,
    )  # fmt: skip


SWEEP = [trial(b, lr, s) for b in (0.1, 0.25, 0.5, 1.0) for lr in GRID for s in range(3)]


def test_the_law_fitted_on_the_smaller_budgets_predicts_the_largest():
    (found,) = transfers(SWEEP)
    assert found.fitted_on == [0.1, 0.25, 0.5] and found.largest == 1.0
    assert found.law.b == pytest.approx(-0.5, abs=1e-6) and found.exponent.covers(-0.5)
    assert found.predicted_lr == 0.35 and found.tuned_lr == 0.3 and found.seeds == [0, 1, 2]
    assert [(c.budget, c.lr, c.seed) for c in transfer_configs(SWEEP)] == [(1.0, 0.35, s) for s in range(3)]
    assert regret(found, SWEEP) is None  # not run yet


def test_the_page_reads_the_runs_at_the_predicted_lr_and_they_tune_no_cell():
    runs = [trial(1.0, 0.35, s) for s in range(3)]
    (found,) = transfers(SWEEP + runs)
    expected = 1.0 / (1 + math.log(0.3 / 0.35) ** 2) - 1  # loss 1 at lr* against 1 + log(0.3 / 0.35)^2
    assert regret(found, SWEEP + runs) == pytest.approx(expected, rel=1e-9)
    assert on_grid(SWEEP + runs) == (SWEEP, runs)
    text = page_text(lr_transfer_section(transfers(SWEEP + runs), SWEEP + runs, str))
    assert f"| -0.50 | [-0.50, -0.50] | 0.35 | 0.3 | {expected:+.2%} |" in text
    assert "was then run with the same seeds" in text
    unrun = page_text(lr_transfer_section(transfers(SWEEP), SWEEP, str))
    assert "| 0.35 | 0.3 | not run |" in unrun and "this study has not run it" in unrun


def test_budgetlr_lr_transfer_without_a_sweep_says_so_in_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "budgetlr", "lr-transfer", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "no results database" in done.stderr


def test_a_best_lr_at_the_grids_edge_is_flagged_not_passed_off_as_a_law():
    """Without 1.5 in the grid, lr* = 0.35 T^-0.5 (1.11 at budget 0.1, 0.70 at 0.25) is best met
    by the top LR, 1.0, at the two smaller budgets."""
    clipped = [t for t in SWEEP if t.lr <= 1.0]
    (found,) = transfers(clipped)
    assert found.edges == [0.1, 0.25]
    row = next(
        line
        for line in page_text(lr_transfer_section(transfers(clipped), clipped, str)).splitlines()
        if "| quadratic |" in line
    )
    assert row.endswith("| 0.1, 0.25 |")


def test_a_grid_lr_missing_at_one_budget_stays_on_the_grid():
    """An interrupted sweep: LR 1.0 ran at budgets 0.1 to 0.5 but not yet at 1.0, LR 0.1 at 1.0
    alone so far (the sweep runs the largest budget first). Neither is a transfer run: only an LR
    that ran at the largest budget alone, while its pair ran at several, is one. The transfer
    runs of the other test are (0.35 at budget 1.0 alone)."""
    partial = [t for t in SWEEP if not (t.lr == 1.0 and t.budget == 1.0)]
    assert on_grid(partial) == (partial, [])
    lone = [trial(1.0, 0.2, s) for s in range(3)]
    assert on_grid(partial + lone) == (partial, lone)


def test_runs_at_a_prediction_made_before_the_grid_was_widened_are_superseded():
    """Without LR 1.5 the law was bounded by the grid's top at the small budgets and predicted
    another LR; widened, the grid predicts 0.35, and the older runs reproduce nothing."""
    clipped = [t for t in SWEEP if t.lr <= 1.0]
    (before,) = transfers(clipped)
    assert before.predicted_lr != 0.35
    old = [trial(1.0, before.predicted_lr, s) for s in range(3)]
    new = [trial(1.0, 0.35, s) for s in range(3)]
    _, off_grid = on_grid(SWEEP + old + new)
    assert current(off_grid, transfers(SWEEP + old + new)) == (new, old)


def test_the_runs_that_refined_transfer_runs_refine_are_part_of_the_transfer_test():
    """``refined`` at a predicted LR needs the linear run at that LR, which the sweep adds: it is
    made by the transfer test, not left over."""
    linear = "linear(warmup=0.05)"
    sweep = [trial(b, lr, s, "refined") for b in (0.1, 0.25, 0.5, 1.0) for lr in GRID for s in range(3)]
    sweep += [
        trial(b, lr, 0, linear) for b in (0.1, 0.25, 0.5, 1.0) for lr in GRID
    ]  # one seed: no law of its own
    assert [t.schedule for t in transfers(sweep)] == ["refined"]
    made = [trial(1.0, 0.35, s, schedule) for schedule in ("refined", linear) for s in range(3)]
    _, off_grid = on_grid(sweep + made)
    assert current(off_grid, transfers(sweep + made)) == (made, [])


def test_a_suites_planned_lrs_stay_on_the_grid_before_its_smaller_budgets_ran():
    """The sweep runs the largest budget first: a new grid LR that ran there alone so far looks
    like a transfer run, unless the suite's plan names it."""
    new = [trial(1.0, 0.2, s) for s in range(3)]
    assert on_grid(SWEEP + new) == (SWEEP, new)
    planned = {("quadratic", "cosine(warmup=0.05)", lr) for lr in (*GRID, 0.2)}
    assert on_grid(SWEEP + new, planned) == (SWEEP + new, [])


def test_lrs_that_refinement_added_at_the_largest_budget_alone_stay_on_the_grid():
    """A refining sweep adds LRs cell by cell. At budget 1.0 (lr* = 0.35) the grid's best is 0.3:
    round 1 adds the midpoints towards 0.1 and 1.0, sqrt(0.03) = 0.1732 and sqrt(0.3) = 0.5477;
    round 2 those between 0.3 and them, sqrt(0.05196) = 0.2279 and sqrt(0.1643) = 0.4054; 0.4054 is then best, its neighbours
    within sqrt(2). Those four ran at budget 1.0 alone, as the transfer runs (0.35) did."""
    refined = [trial(1.0, lr, s) for lr in (0.1732, 0.5477, 0.2279, 0.4054) for s in range(3)]
    runs = [trial(1.0, 0.35, s) for s in range(3)]
    assert on_grid(SWEEP + refined + runs) == (SWEEP + refined, runs)
    # without 0.5477, round 2 never adds 0.4054 (0.3 stays best): it is off the grid
    without = [t for t in refined if t.lr != 0.5477]
    assert on_grid(SWEEP + without) == (SWEEP + without[:6], without[6:])
