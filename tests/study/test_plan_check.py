"""The planner's validation (docs/plan.md): its measures on hand-made values, and the whole check on
a short sweep of the quadratic stored as a user would run it."""

import math

import pytest

from budgetlr.bench.store import Store
from budgetlr.bench.suites import Claim, Suite
from budgetlr.cli import main
from budgetlr.study import analysis
from budgetlr.study.plan_check import (
    DESIGNED,
    FIXED,
    RECOMMENDED,
    Pair,
    Predicted,
    Summary,
    WorkloadCheck,
    check_group,
    pair,
)
from budgetlr.study.results import write_results


def test_a_prediction_error_is_counted_in_standard_errors_of_the_observed_mean():
    # seeds 1.0, 1.2, 1.4: mean 1.2, sd 0.2, SE 0.2 / sqrt(3) = 0.11547
    observed = Predicted("cosine", 1.5, 1.2, 0.2 / math.sqrt(3), {0: 1.0, 1: 1.2, 2: 1.4})
    assert observed.error_se == pytest.approx(0.3 / 0.11547005, rel=1e-6)


def test_a_pair_is_paired_by_seed_and_counts_only_when_its_gap_exceeds_two_standard_errors():
    a = Predicted("a", 2.0, 0, 0, {0: 1.0, 1: 1.1, 2: 1.2})
    b = Predicted("b", 2.5, 0, 0, {0: 1.5, 1: 1.4, 2: 1.9})
    found = pair(a, b)
    # differences -0.5, -0.3, -0.7: mean -0.5, sd 0.2, SE 0.2 / sqrt(3)
    assert found.observed == pytest.approx(-0.5)
    assert found.se == pytest.approx(0.2 / math.sqrt(3))
    assert found.predicted == pytest.approx(-0.5)
    assert found.resolved and found.right
    assert not Pair("a", "b", 0.3, 0.2, 0.1).resolved  # 0.3 < 2 x 0.2
    assert not Pair("a", "b", 0.5, 0.2, -0.1).right


def check(workload, errors, pairs, tau, regrets):
    predictions = tuple(Predicted(f"s{i}", 1.0 + e, 1.0, 1.0, {}) for i, e in enumerate(errors))
    return WorkloadCheck(workload, None, 0.01, predictions, pairs, tau, "s0", regrets)


def test_the_summary_takes_medians_over_predictions_and_workloads_and_counts_only_resolved_pairs():
    right, wrong, unresolved = (
        Pair("a", "b", 1.0, 0.1, 0.5),
        Pair("a", "b", 1.0, 0.1, -0.5),
        Pair("a", "b", 0.1, 0.1, 1),
    )
    regrets = {"cosine": 0.02, "wsd": 0.0, "linear": 0.05, DESIGNED: 0.01}
    summary = Summary(
        (
            check("w1", [0.5, 1.0, 3.0], (right, right, unresolved), 0.6, regrets),
            check("w2", [4.0, 0.25], (wrong, unresolved), 1.0, {**regrets, DESIGNED: 0.03}),
            check("w3", [2.0], (right,), -0.2, {**regrets, DESIGNED: 0.0}),
        )
    )
    assert summary.median_error_se == 1.5  # of 0.25, 0.5, 1, 2, 3, 4
    assert summary.sign_accuracy == 0.75  # 3 right of 4 resolved
    assert summary.median_tau == 0.6
    assert summary.median_regret(DESIGNED) == 0.01
    assert summary.policies == list(FIXED)  # no recommend's choice where a check lacks it


@pytest.mark.slow
def test_the_check_on_a_short_quadratic_sweep_fits_predicts_designs_and_judges(tmp_path, capsys):
    schedules = "constant(warmup=0.05),cosine(warmup=0.05),linear(warmup=0.05),wsd(decay=0.2, shape=1-sqrt, warmup=0.05)"
    args = ["bench", "--workload", "quadratic,quadratic(kappa=10000.0)", "--schedules", schedules, "--budgets", "0.5,1.0",
            "--lrs", "0.05", "--seeds", "0,1", "--out", str(tmp_path), "--no-report", "--quiet", "--workers", "1"]  # fmt: skip
    assert main(args) == 0
    with Store.existing(tmp_path) as store:
        trials = store.trials()
        cells = analysis.cells(trials)
        summary = check_group(
            ["quadratic", "quadratic(kappa=10000.0)"], cells, trials, store, lambda workload: None
        )
    assert [c.workload for c in summary.checks] == ["quadratic", "quadratic(kappa=10000.0)"]
    for found in summary.checks:
        assert [p.schedule for p in found.predictions] == [
            "constant(warmup=0.05)",
            "cosine(warmup=0.05)",
            "linear(warmup=0.05)",
            "wsd(decay=0.2, warmup=0.05)",
        ]
        assert 0 < found.fit_error < 1 and all(p.se > 0 and p.predicted > 0 for p in found.predictions)
        assert len(found.pairs) == 6 and -1 <= found.tau <= 1
        assert found.design in {p.schedule for p in found.predictions}
        assert set(found.regrets) == {*FIXED, RECOMMENDED, DESIGNED}
        assert min(found.regrets.values()) >= 0
    assert summary.policies == [*FIXED, RECOMMENDED]
    # The page of a suite with a convex control: the network leads, the control has its own sections.
    suite = Suite(
        "",
        ("quadratic", "quadratic(kappa=10000.0)"),
        (
            "constant(warmup=0.05)",
            "cosine(warmup=0.05)",
            "linear(warmup=0.05)",
            "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
        ),
        (0.5, 1.0),
        (0, 1),
        {"quadratic": (0.05,), "quadratic(kappa=10000.0)": (0.05,)},
        Claim("", "cosine(warmup=0.05)", ("linear(warmup=0.05)",), (), (0.5,)),
        controls=("quadratic(kappa=10000.0)",),
    )
    page = write_results(tmp_path, tmp_path / "page.md", suite)
    assert "**Incomplete**" not in page.read_text()  # the sweep ran the suite's whole plan
    headings = [line for line in page.read_text().splitlines() if line.startswith("#")]
    assert (
        headings.index(
            "## Verdicts on the networks: cosine's held-out loss against each baseline, on quadratic"
        )
        == 1
    )
    for heading in ("## The planner, validated on the fair study", "### The networks", "### The convex controls",
                    "## How finely each cell's peak LR was tuned",
                    "## Verdicts on the convex controls: cosine's held-out loss against each baseline, on quadratic(kappa=10000.0)"):  # fmt: skip
        assert heading in headings
