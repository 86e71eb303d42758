"""The study's statistics, recommend, results page and WSD-S, on small hand-made and real results."""

import subprocess

import numpy as np
import pytest

import budgetlr
from budgetlr.bench.executors import Execution
from budgetlr.bench.runner import TrialConfig, run_trial
from budgetlr.bench.sweep import make_plan, run_sweep
from budgetlr.study.analysis import Cell
from budgetlr.study.branching import BranchSettings, decay_steps, load_rows, measure, wsd_s_segments
from budgetlr.study.recommend import excess, paired_outcome, recommend
from tests.helpers import BUDGETLR


def cell(schedule, test, workload="w", budget=0.1, higher=False):
    val = float(np.mean(test)) if test else float("nan")
    return Cell(workload, schedule, budget, 10, "loss", higher, 0.1, {0.1: val}, list(test))


@pytest.mark.parametrize(
    "a, b, outcome",
    [
        ([1.0, 2.0, 3.0], [1.5, 2.5, 3.5], "win"),  # always 0.5 lower: paired, the seed spread cancels
        ([1.5, 2.5, 3.5], [1.0, 2.0, 3.0], "loss"),
        ([1.0, 2.0, 3.0], [1.2, 1.9, 3.1], "tie"),
        ([], [1.0, 2.0], "loss"),
    ],
)
def test_paired_outcomes(a, b, outcome):
    assert paired_outcome(cell("a", a), cell("b", b)) == outcome


def test_accuracies_compare_by_error_rate():
    group = {"a": cell("a", [0.9, 0.9], higher=True), "b": cell("b", [0.8, 0.8], higher=True)}
    assert excess(group) == pytest.approx({"a": 0.0, "b": 1.0})  # 20% error is twice 10%
    assert paired_outcome(group["a"], group["b"]) == "win"


@pytest.mark.parametrize(
    ("cells", "confidence"),
    [
        ([cell("a", [1.0])], "low: no other schedule was measured at this budget"),  # a single trial
        ([cell("a", [1.0]), cell("b", [2.0])], "low: one seed in a cell gives no interval"),
        ([cell("a", [1.0, 1.1]), cell("b", [2.0, 2.1]), cell("a", [1.0], "w2"), cell("b", [2.0], "w2")],
         "low: one seed in a cell gives no interval"),
    ],
)  # fmt: skip
def test_recommend_is_never_confident_without_a_comparison_over_seeds(cells, confidence):
    assert recommend(cells, 0.1).confidence == confidence


def test_recommend_ranks_by_geometric_mean_excess_and_states_its_confidence():
    cells = [
        cell("a", [1.0, 1.1, 1.2], "w1"), cell("b", [1.5, 1.6, 1.7], "w1"),
        cell("a", [2.0, 2.1, 2.2], "w2"), cell("b", [2.0, 2.2, 2.1], "w2"),
        cell("a", [9.0, 9.0, 9.0], "w1", budget=1.0), cell("b", [1.0, 1.0, 1.0], "w1", budget=1.0),
    ]  # fmt: skip
    rec = recommend(cells, 0.12)
    assert rec.budget == 0.1 and [r.schedule for r in rec.ranking] == ["a", "b"]
    assert rec.choice.mean_excess == pytest.approx(np.mean([0.0, 0.0]), abs=1e-9)
    # b's loss ratios to the best: 1.6 / 1.1 on w1, 2.1 / 2.1 on w2; their geometric mean, minus 1
    assert rec.ranking[1].mean_excess == pytest.approx((1.6 / 1.1 * 1.0) ** 0.5 - 1, abs=1e-9)
    assert rec.confidence == "high"  # best everywhere and a paired win over b on w1
    assert "nearest budget measured to 0.12" in rec.explain()
    assert recommend(cells, 1.0, workload="w1").choice.schedule == "b"
    with pytest.raises(ValueError, match="no stored results for workload 'w9'; measured: w1, w2"):
        recommend(cells, 0.1, workload="w9")
    with pytest.raises(ValueError, match=r"budget 0.0 must be a fraction of the full budget in \(0, 1\]"):
        recommend(cells, 0.0)


def test_wsd_branches_reproduce_separate_runs_and_wsd_s_costs_one_run():
    rows = measure("quadratic", [0.02, 0.05], lr=0.03, seed=0)
    assert [(r.budget, r.steps) for r in rows] == [(0.02, 40), (0.05, 100)]
    assert all(r.branch == r.separate for r in rows)  # same batches, same LRs: the same model
    assert rows[0].wsd_s == rows[0].separate  # nothing precedes the first budget
    assert rows[1].wsd_s != rows[1].separate  # it restarts from the decayed model
    # separate 40 + 100; branches: 100 + the first cooldown (8 steps); WSD-S: 100
    assert (rows[0].separate_steps, rows[0].branch_steps, rows[0].wsd_s_steps) == (140, 108, 100)


def test_wsd_s_separate_runs_are_the_sweeps_wsd_trials_at_rounding_ties():
    # decay 0.1 of 25 and 35 steps is 2.5 and 3.5: halves round up, to 3 and 4 steps, in the
    # schedules, the sweep and wsd-s alike (round-half-to-even would give 2 and 4)
    settings = BranchSettings(decay=0.1, shape="1-sqrt", warmup=0.05)
    assert [decay_steps(t, 0.1) for t in (25, 35)] == [3, 4]
    budgets = [25 / 2000, 35 / 2000]  # the quadratic's full budget is 2,000 steps
    rows = measure("quadratic", budgets, lr=0.03, seed=1, settings=settings)
    sweep = "wsd(decay=0.1, shape=1-sqrt, warmup_steps=1)"  # 5% of 25 steps: 1.25, so 1
    trials = [run_trial(TrialConfig("quadratic", sweep, b, 0.03, 1)) for b in budgets]
    assert [r.steps for r in rows] == [t.steps for t in trials] == [25, 35]
    assert [r.separate for r in rows] == [t.test_metric for t in trials]
    assert [r.branch for r in rows] == [t.test_metric for t in trials]


def wsd_s_multipliers(steps, warmup_steps, decay, shape):
    """WSD-S's multiplier at every step up to ``steps[-1]``: its segments' curves one after another."""
    settings = BranchSettings(decay=decay, shape=shape)
    return np.concatenate(
        [
            budgetlr.schedule(spec, t - lo).multiplier(np.arange(t - lo))
            for lo, t, spec in wsd_s_segments(steps, warmup_steps, settings)
        ]
    )


def test_wsd_s_decays_over_a_fraction_of_each_segment_and_restarts_at_the_peak():
    # budgets 500 and 600, decay 0.2, 1-sqrt: the first segment decays over steps 400-500, the
    # second (100 steps) over its own last 20, 580-600, not over 480-600 as a fraction of 600 would
    curve = wsd_s_multipliers([500, 600], warmup_steps=0, decay=0.2, shape="1-sqrt")
    table = [(0, 1.0), (399, 1.0), (450, 0.292893), (499, 0.005013), (500, 1.0), (579, 1.0),
             (580, 1.0), (590, 0.292893), (599, 0.025321)]  # fmt: skip
    assert len(curve) == 600
    assert [curve[t] for t, _ in table] == pytest.approx([m for _, m in table], abs=5e-7)


def test_wsd_s_never_starts_a_segment_mid_decay_short_or_long_segments():
    budgets = [100, 120, 1000, 1010]  # segments of 100, 20, 880 and 10 steps
    curve = wsd_s_multipliers(budgets, warmup_steps=5, decay=0.2, shape="linear")
    assert [curve[t] for t in (0, 4, 5)] == pytest.approx([1 / 6, 5 / 6, 1.0])  # (t+1)/(W+1): first only
    assert [curve[t] for t in (100, 120, 1000)] == [1.0, 1.0, 1.0]  # each segment starts at the peak
    # decays: 20 steps from 80, 4 from 116, 176 from 824, 2 from 1008 (linear: 1 - x)
    table = [(79, 1.0), (90, 0.5), (116, 1.0), (118, 0.5), (823, 1.0), (912, 0.5), (1008, 1.0), (1009, 0.5)]
    assert [curve[t] for t, _ in table] == pytest.approx([m for _, m in table], abs=1e-12)


@pytest.fixture(scope="module")
def small_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    schedules = ["uba(warmup=0.05)", "cosine(warmup=0.05)", "linear(warmup=0.05)", "constant(warmup=0.05)"]
    run_sweep(
        make_plan(["quadratic"], schedules, [0.02, 0.05], [0, 1], lrs=[0.03, 0.1]),
        out,
        Execution(progress=False),
    )
    return out


@pytest.mark.slow
def test_budgetlr_recommend_answers_from_the_database(small_study):
    done = subprocess.run(
        [BUDGETLR, "recommend", "--budget-fraction", "0.05", "--out", str(small_study)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("budget fraction 0.05, over 1 workload(s): quadratic\nuse ")
    assert "confidence: " in done.stdout
    bad = subprocess.run(
        [BUDGETLR, "recommend", "--budget-fraction", "2", "--out", str(small_study)],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2
        and bad.stderr.strip()
        == "budgetlr: error: argument --budget-fraction: budget 2.0 must be a fraction of the full budget in (0, 1]"
    )


@pytest.mark.slow
def test_budgetlr_wsd_s_and_results_write_the_page_with_its_sections(small_study, tmp_path):
    done = subprocess.run(
        [BUDGETLR, "wsd-s", "--workload", "quadratic", "--budgets", "0.02,0.05", "--seeds", "0",
         "--out", str(small_study), "--quiet"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "branches 108 (0.77x), WSD-S 100 (0.71x)" in done.stdout
    # The LR came from the database: wsd was not run, so the middle of the quadratic grid.
    assert "peak LR 0.03" in done.stdout and len(load_rows(small_study)) == 2
    page = tmp_path / "results.md"
    done = subprocess.run([BUDGETLR, "results", "--out", str(small_study)], capture_output=True, text=True)
    assert done.returncode == 2 and "--write" in done.stderr  # no page is written by default
    done = subprocess.run(
        [BUDGETLR, "results", "--out", str(small_study), "--write", str(page)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    # Read from this database: 4 schedules x 2 budgets x 2 LRs x 2 seeds, their grid and warmup.
    assert "from 32 stored trials" in text and "Seeds: 0, 1." in text
    assert "Grids: quadratic: 0.03, 0.1." in text and "warms up for 5% of its budget." in text
    for heading in (
        "## Verdicts",
        "## The recommendation, tested on workloads it was not chosen on",
        "## Recommendation per budget",
        "## How noisy the held-out loss is",
        "## UBA's phi",
        "## WSD-S",
        "## GPU tier",
    ):
        assert heading in text
    assert (
        "budgetlr results --out" in text
        and (tmp_path / "results" / "quadratic-budget.png").stat().st_size > 0
    )


def seeded(workload, schedule, ratio):
    """A cell of 4 seeds whose losses are ``ratio`` times a per-seed base, with 0.1% noise."""
    base = [1.0, 1.2, 0.9, 1.1]
    noise = [1.0, 1.001, 0.999, 1.0]
    test = [b * ratio * n for b, n in zip(base, noise, strict=True)]
    return Cell(
        workload, schedule, 0.1, 10, "loss", False, 0.1, {0.1: float(np.mean(test))}, test, seeds=[0, 1, 2, 3]
    )


@pytest.mark.parametrize(
    ("on_w2", "confidence"),
    [
        # a 20% and 21% below b: beyond seed noise, and the two workloads agree.
        (0.79, "high: its held-out loss is lower than the runner-up's beyond seed noise and across workloads"),
        # 20% and 1% below: beyond seed noise on these two, but their means spread over 0 with
        # 1 degree of freedom (t = 12.7: mean -11.7%, half-width 135% in log-ratio).
        (0.99, "medium: its held-out loss is lower than the runner-up's beyond seed noise on these "
               "workloads, but not across workloads (their spread covers 0)"),
    ],
)  # fmt: skip
def test_recommend_is_highly_confident_only_if_the_workloads_agree(on_w2, confidence):
    cells = [seeded("w1", "a", 0.8), seeded("w1", "b", 1.0), seeded("w2", "a", on_w2), seeded("w2", "b", 1.0)]
    rec = recommend(cells, 0.1)
    assert rec.choice.schedule == "a" and rec.confidence == confidence
    assert rec.against_runner_up is not None and rec.against_runner_up.high < 0
    assert "the same with the workloads as a sample" in rec.explain()
    assert "`budgetlr plan` on two short runs of yours" in rec.explain()
