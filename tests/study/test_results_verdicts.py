"""The results page's pooled verdicts on synthetic trials whose answer is known: a planted 5%
lower loss is found with its sign and an interval covering it; equal losses are a tie."""

import dataclasses
import math

import numpy as np
import pytest

from budgetlr.bench.store import Trial
from budgetlr.bench.suites import Claim
from budgetlr.study.analysis import cells
from budgetlr.study.pages import page_text
from budgetlr.study.results import gpu_section
from budgetlr.study.verdicts import pooled_verdicts

UBA, COSINE, LINEAR = "uba(warmup=0.05)", "cosine(warmup=0.05)", "linear(warmup=0.05)"
CLAIM = Claim("2505.24452", UBA, (COSINE,), (LINEAR,), (0.1, 0.25))


def trial(workload, schedule, budget, seed, loss):
    key = f"{workload}-{schedule}-{budget}-{seed}"
    return Trial(
        key, "0", 2, workload, schedule, budget, 0.1, seed, 100, "ok", "accuracy", True,
        0.9, 0.9, 1.0, 100.0, "", val_loss=loss, test_loss=loss, test_loss_se=0.01,
    )  # fmt: skip


def synthetic(ratio_to_cosine, on_b=None):
    """UBA's loss ``ratio_to_cosine`` times cosine's (``on_b`` on workload b, if given)."""
    rng = np.random.default_rng(3)
    trials = []
    for workload, scale in (("a", 1.0), ("b", 3.0)):
        ratio = on_b if workload == "b" and on_b is not None else ratio_to_cosine
        for budget in (0.1, 0.25, 0.5, 1.0):
            for seed in range(8):
                base = scale * math.exp(rng.normal(0, 0.05))  # shared by the seed's runs: pairing removes it
                noise = rng.normal(0, 0.005, 3)
                for schedule, relative, e in (
                    (COSINE, 1.0, noise[0]),
                    (LINEAR, 1.0, noise[1]),
                    (UBA, ratio, noise[2]),
                ):
                    trials.append(trial(workload, schedule, budget, seed, base * relative * math.exp(e)))
    return trials


def rows_of(text, table=0):
    """The rows of the pooled table (0) or of the per-workload one (1)."""
    part = text.split("The same comparisons on each workload alone")[table]
    return [line for line in part.splitlines() if line.startswith(("| cosine", "| linear"))]


def test_a_planted_effect_is_found_with_its_sign_and_a_tie_is_a_tie():
    text = page_text(pooled_verdicts(cells(synthetic(0.95)), CLAIM, str))
    rows = rows_of(text)
    assert len(rows) == 4  # 2 baselines x 2 regimes
    for row in rows:
        parts = [p.strip().strip("*") for p in row.strip("|").split("|")]
        change, interval, says = parts[2:5]
        low, high = (float(x.strip("%")) for x in interval.strip("[]").split(", "))
        assert low <= -5.0 <= high and high < 0  # uba 5% lower than both, covered
        assert float(change.strip("%")) == pytest.approx(-5.0, abs=0.5)
        assert says == f"{UBA} lower"
        # Across workloads: t over the 2 workloads' means, both near -5%; the worst is near -5%.
        across_low, across_high = (float(x.strip("%")) for x in parts[5].strip("[]").split(", "))
        assert across_low <= -5.0 <= across_high
        workload, worst = parts[7].split(" ")
        assert workload in ("a", "b") and float(worst.strip("%")) == pytest.approx(-5.0, abs=0.5)
        assert parts[8] == "2 (4 cells)" and parts[9] == "8"
    assert "each at 98.75%" in text  # Bonferroni over 4 comparisons
    for row in rows_of(text, table=1):  # each workload alone: -5% too, covered, below 0
        for entry in [p.strip().strip("*") for p in row.strip("|").split("|")][2:]:
            estimate, interval = entry.split(" [")
            low, high = (float(x) for x in interval.strip("]").split(", "))
            assert low <= -5.0 <= high < 0 and float(estimate.strip("%")) == pytest.approx(-5.0, abs=0.5)


def test_a_loss_on_one_workload_is_marked_as_clearly_as_a_win_on_the_other():
    # UBA 5% lower on a, 5% higher on b: pooled and across workloads a tie; b is the worst
    # workload, and its per-workload entries are marked as clearly as a's.
    text = page_text(pooled_verdicts(cells(synthetic(0.95, on_b=1.05)), CLAIM, str))
    for row in rows_of(text):
        parts = [p.strip() for p in row.strip("|").split("|")]
        assert parts[4] == parts[6] == "tie"
        workload, change = parts[7].split(" ")
        assert workload == "b" and float(change.strip("%")) == pytest.approx(5.0, abs=0.6)
    for row in rows_of(text, table=1):
        on_a, on_b = (p.strip() for p in row.strip("|").split("|")[2:])
        assert on_a.startswith("**-") and not on_a.endswith("(worse)**")
        assert on_b.startswith("**+") and on_b.endswith(" (worse)**")


def test_an_interval_across_two_workloads_too_wide_to_say_anything_is_written_as_such():
    # UBA's loss half cosine's on a, double on b: the mean log-ratio over the two workloads is 0,
    # their SE 0.69, and t at 99.375% with 1 degree of freedom 50.9: the bound is exp(35) - 1.
    text = page_text(pooled_verdicts(cells(synthetic(0.5, on_b=2.0)), CLAIM, str))
    for row in rows_of(text):
        across = row.strip("|").split("|")[5].strip()
        assert across.startswith("[-100.00%, ") and across.endswith(", > +10,000%]"), across


def test_equal_losses_are_ties_and_the_page_is_the_same_on_every_run():
    text = page_text(pooled_verdicts(cells(synthetic(1.0)), CLAIM, str))
    assert all("| tie |" in row for row in rows_of(text))
    assert text == page_text(pooled_verdicts(cells(synthetic(1.0)), CLAIM, str))


def test_without_held_out_losses_the_page_says_so():
    old = [
        Trial("k", "0.2.0", 1, "a", s, 0.1, 0.1, seed, 100, "ok", "accuracy", True, 0.9, 0.9, 1.0, 100.0, "")
        for s in (UBA, COSINE)
        for seed in range(3)
    ]
    assert "holds no paired trials with held-out losses" in page_text(pooled_verdicts(cells(old), CLAIM, str))


def test_the_recommender_is_scored_on_workloads_it_was_not_chosen_on():
    from budgetlr.study.verdicts import recommender_out_of_sample

    text = page_text(recommender_out_of_sample(cells(synthetic(0.95)), str))
    rows = held_out_rows(text)
    assert len(rows) == 8  # 2 held-out workloads x 4 budgets
    assert all(f"| **{UBA}** | {UBA} | +0.00% | {UBA} | +0.00% | yes |" in row for row in rows)
    assert "Mean regret over the per-cell best: +0.00%" in text
    assert "best or statistically tied with it in 100% of the 8 cells." in text


def test_a_schedule_that_wins_only_on_one_workload_is_not_picked_for_the_others():
    from budgetlr.study.verdicts import recommender_out_of_sample

    trials = [t for t in synthetic(1.0) if t.schedule != UBA]
    # linear's loss is 10% below cosine's on workload "a" and 2% above it on "b"
    factor = {"a": 0.9, "b": 1.02}
    changed = [
        trial(t.workload, t.schedule, t.budget, t.seed, t.test_loss * factor[t.workload])
        if t.schedule == LINEAR
        else t
        for t in trials
    ]
    text = page_text(recommender_out_of_sample(cells(changed), str))
    a_rows = [row for row in held_out_rows(text) if row.startswith("| a |")]
    b_rows = [row for row in held_out_rows(text) if row.startswith("| b |")]
    # held out, each workload gets the other's best, which is not its own: regret about 1/0.9 - 1 and 2%
    assert [cell_of(row)[2:4] for row in a_rows] == [[COSINE, LINEAR]] * 4
    assert all(10.0 < float(cell_of(row)[4].strip("+%")) < 12.5 and cell_of(row)[7] == "no" for row in a_rows)
    assert [cell_of(row)[2:4] for row in b_rows] == [[LINEAR, COSINE]] * 4
    assert all(1.0 < float(cell_of(row)[4].strip("+%")) < 3.0 for row in b_rows)
    # The fixed rival is chosen without the held-out workload too: the other's best, as the pick.
    assert [cell_of(row)[5:7] for row in a_rows] == [[COSINE, "+0.00%"]] * 4
    assert [cell_of(row)[5:7] for row in b_rows] == [[LINEAR, "+0.00%"]] * 4
    per_workload = [cell_of(row) for row in text.split("Per held-out workload")[1].splitlines()[1:]]
    per_workload = [row for row in per_workload if row[0] in ("a", "b")]
    assert [(row[0], row[1], row[3]) for row in per_workload] == [
        ("a", COSINE, "+0.00%"),
        ("b", LINEAR, "+0.00%"),
    ]


def cell_of(row):
    return [part.strip().strip("*") for part in row.strip("|").split("|")]


def held_out_rows(text):
    """The rows of the recommender's table of held-out cells (not its per-workload summary)."""
    cells_part = text.split("Per held-out workload")[0]
    return [line for line in cells_part.splitlines() if line.startswith(("| a |", "| b |", "| c |"))]


def three_workloads():
    """Three workloads, four schedules whose order differs by workload, 4 seeds each."""
    rng = np.random.default_rng(11)
    order = {"a": (1.0, 1.05, 1.1, 1.2), "b": (1.1, 1.0, 1.02, 1.3), "c": (1.04, 1.06, 1.0, 1.1)}
    names = (COSINE, LINEAR, UBA, "rex(warmup=0.05)")
    return [
        trial(w, name, budget, seed, ratio * math.exp(rng.normal(0, 0.01)))
        for w, ratios in order.items()
        for budget in (0.1, 1.0)
        for seed in range(4)
        for name, ratio in zip(names, ratios, strict=True)
    ]


def test_the_held_out_pick_is_what_budgetlr_recommend_answers_without_that_workload():
    from budgetlr.study.recommend import recommend
    from budgetlr.study.verdicts import recommender_out_of_sample

    trials = three_workloads()
    rows = [cell_of(r) for r in held_out_rows(page_text(recommender_out_of_sample(cells(trials), str)))]
    picks = {(r[0], float(r[1])): r[2] for r in rows}
    assert len(picks) == 6
    for (held_out, budget), pick in picks.items():
        others = cells([t for t in trials if t.workload != held_out])
        assert recommend(others, budget).choice.schedule == pick


def test_one_missing_trial_leaves_the_other_cells_judged_and_a_lone_budget_is_skipped():
    from budgetlr.study.verdicts import recommender_out_of_sample

    trials = [
        t for t in three_workloads() if (t.workload, t.schedule, t.budget, t.seed) != ("a", UBA, 0.1, 3)
    ]
    trials += [trial("c", name, 0.5, seed, 1.0 + seed / 100) for name in (COSINE, UBA) for seed in range(4)]
    text = page_text(recommender_out_of_sample(cells(trials), str))
    rows = [cell_of(r) for r in held_out_rows(text)]
    assert len(rows) == 6  # budget 0.5 ran on c alone: nothing to choose it from
    assert all(r[7] in ("yes", "no") for r in rows)  # every cell paired, on the seeds it shares
    assert "of the 6 cells." in text


def test_a_database_where_every_trial_diverged_still_renders_its_page(tmp_path):
    from budgetlr.bench.runner import TrialConfig, TrialResult
    from budgetlr.bench.store import Store
    from budgetlr.bench.suites import SUITES
    from budgetlr.study.results import write_results

    with Store(tmp_path) as store:
        for schedule in (UBA, COSINE):
            for budget in (0.1, 1.0):
                for seed in range(2):
                    config = TrialConfig("quadratic", schedule, budget, 3.0, seed)
                    store.save(TrialResult(config, 0, "diverged", None, None, 1.0, 1.0), "excess_risk", False)
    text = write_results(tmp_path, tmp_path / "page.md", SUITES["study"]).read_text()
    assert "No pooled verdicts" in text and "## Recommendation per budget" in text


def test_the_gpu_tier_is_judged_as_the_cpu_study_is_on_its_one_workload():
    text = page_text(gpu_section([c for c in cells(synthetic(0.95)) if c.workload == "a"], CLAIM, str))
    assert (
        "## GPU tier" in text and f"### Verdicts: {UBA}'s held-out loss against each baseline, on a" in text
    )
    assert len(rows_of(text)) == 4 and all(f"{UBA} lower" in row for row in rows_of(text))
    # it names no section of the main page, and one workload needs no per-workload table
    assert "below" not in text and "each workload alone" not in text


def test_the_page_says_what_of_its_suites_plan_is_not_yet_stored_or_still_refining():
    from budgetlr.bench.suites import Suite
    from budgetlr.study.results import incomplete

    # the plan: 2 budgets x 1 LR x 2 seeds of one schedule, 4 trials; 3 stored, one of them twice
    suite = Suite("", ("quadratic",), (COSINE,), (0.5, 1.0), (0, 1), {"quadratic": (0.1,)})
    stored = [trial("quadratic", COSINE, b, seed, 1.0) for b, seed in ((0.5, 0), (0.5, 1), (1.0, 1))]
    assert incomplete(suite, [*stored, stored[0]], []) == (
        "1 of the 4 trials of the suite's plan is not yet stored (quadratic 1)"
    )
    every = [*stored, trial("quadratic", COSINE, 1.0, 0, 1.0)]
    assert incomplete(suite, every, cells(every)) == ""
    # Refined, a one-LR grid is its own optimum at both edges: each cell would extend it.
    refining = dataclasses.replace(suite, refine=True)
    assert (
        incomplete(refining, every, cells(every)) == "refinement would still add LRs to 2 cells (quadratic 2)"
    )
