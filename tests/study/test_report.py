"""Statistics and the report: AlgoPerf checks, LR tuning on validation, ties, the files written."""

import math

import matplotlib.image
import pytest

from budgetlr.bench.executors import Execution
from budgetlr.bench.store import Store, Trial
from budgetlr.bench.sweep import make_plan, run_sweep
from budgetlr.study import analysis
from budgetlr.study.report import write_report
from tests.helpers import store_synthetic_trials


@pytest.mark.parametrize(
    ("ratios", "score"), [([1, 2, math.inf], 0.555556), ([1, 1, 1], 1.0), ([1.5, 3, 5], 0.388889)]
)
def test_performance_profile_score_reference_checks(ratios, score):
    assert analysis.profile_score(ratios) == pytest.approx(score, abs=5e-7)


def test_profile_curve_is_the_share_within_tau():
    ratios = [1.0, 2.0, math.inf]
    assert analysis.profile_curve(ratios, [1.0, 1.5, 2.0, 4.0]).tolist() == pytest.approx(
        [1 / 3, 1 / 3, 2 / 3, 2 / 3]
    )


def trial(schedule, budget, lr, seed, val, test, status="ok", higher=True):
    key = f"{schedule}-{budget}-{lr}-{seed}"
    return Trial(key, "0", 1, "w", schedule, budget, lr, seed, int(budget * 100), status, "accuracy", higher,
                 val, test, 1.0, 100.0, "now")  # fmt: skip


def test_lr_is_tuned_on_validation_and_a_diverged_seed_disqualifies_an_lr():
    trials = [
        trial("cosine", 1.0, 0.1, 0, 0.80, 0.70),
        trial("cosine", 1.0, 0.1, 1, 0.82, 0.72),
        trial("cosine", 1.0, 0.3, 0, 0.90, 0.60),  # best validation, but one seed diverged
        trial("cosine", 1.0, 0.3, 1, None, None, status="diverged"),
        trial("cosine", 1.0, 0.03, 0, 0.85, 0.90),  # best test: never chosen, selection is on validation
        trial("cosine", 1.0, 0.03, 1, 0.85, 0.92),
    ]
    [cell] = analysis.cells(trials)
    assert cell.tuned_lr == 0.03
    assert cell.test == [0.90, 0.92] and cell.mean == pytest.approx(0.91)
    assert math.isnan(cell.val_by_lr[0.3])
    assert cell.half_width == pytest.approx(12.7062047 * 0.0141421356 / math.sqrt(2), rel=1e-6)


def test_best_ties_and_wins_follow_the_intervals():
    trials = [trial("a", 1.0, 0.1, s, 0.9, v) for s, v in enumerate([0.90, 0.91, 0.92])]
    trials += [trial("b", 1.0, 0.1, s, 0.9, v) for s, v in enumerate([0.89, 0.90, 0.91])]  # overlaps a
    trials += [trial("c", 1.0, 0.1, s, 0.9, v) for s, v in enumerate([0.50, 0.51, 0.52])]  # far below
    trials += [trial("d", 1.0, 0.1, s, None, None, status="diverged") for s in range(3)]
    best, ties = analysis.best_and_ties(analysis.cells(trials))
    assert best.schedule == "a" and [c.schedule for c in ties] == ["b"]
    assert analysis.wins_ties_losses(analysis.cells(trials)) == {
        "a": (1, 0, 0),
        "b": (0, 1, 0),
        "c": (0, 0, 1),
        "d": (0, 0, 1),
    }


def test_steps_to_target_uses_the_median_final_validation_as_target():
    trials = []
    for schedule, vals in {"fast": [0.86, 0.9], "slow": [0.5, 0.85], "never": [0.4, 0.6]}.items():
        for budget, val in zip([0.5, 1.0], vals, strict=True):
            trials += [trial(schedule, budget, 0.1, s, val, val) for s in range(2)]
    times = analysis.steps_to_target(analysis.cells(trials))
    assert times == {"w": {"fast": 50, "never": None, "slow": 100}}
    assert analysis.performance_ratios(times) == {"fast": [1.0], "never": [math.inf], "slow": [2.0]}


@pytest.mark.slow
def test_report_from_a_real_sweep(tmp_path):
    plan = make_plan(["quadratic(dim=8)"], ["cosine", "constant"], [0.05, 0.1], [0, 1], [0.1, 0.3])
    run_sweep(plan, tmp_path, Execution(workers=2, progress=False))
    report = write_report(tmp_path)
    text = report.read_text()
    html = (tmp_path / "report.html").read_text()
    with Store(tmp_path) as store:
        cells = analysis.cells(store.trials())
    for cell in cells:
        assert f"{cell.mean:.4g} ± {cell.sd:.3g}" in text
        assert f"{cell.mean:.4g} ± {cell.sd:.3g}" in html
    assert "| 0.05 (100 steps) |" in text and "## Wins and ties across the suite" in text
    for name in [
        "quadratic_dim_8-budget",
        "quadratic_dim_8-curves",
        "quadratic_dim_8-lr",
        "performance-profile",
    ]:
        path = tmp_path / "plots" / f"{name}.png"
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert matplotlib.image.imread(path).shape[1] > 500
        assert f"plots/{name}.png" in text and f"plots/{name}.png" in html


def test_report_needs_a_database(tmp_path):
    with pytest.raises(ValueError, match="no results database in"):
        write_report(tmp_path)


def test_the_report_flags_a_tuned_lr_at_a_grid_edge_and_next_to_a_divergence(tmp_path):
    # cosine and linear tune to 0.1, the lowest LR of their grid, below 1e30 where every seed diverged
    store_synthetic_trials(tmp_path)
    text = write_report(tmp_path).read_text()
    assert "| 0.05 | 0.1 (edge, cliff) | 0.1 (edge, cliff) |" in text
    assert "Flagged tuned LRs: *edge*" in text
