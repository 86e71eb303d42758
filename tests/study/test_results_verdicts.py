"""The results page's pooled verdicts on synthetic trials whose answer is known: a planted 5%
lower loss is found with its sign and an interval covering it; equal losses are a tie."""

import math

import numpy as np
import pytest

from budgetlr.bench.store import Trial
from budgetlr.bench.suites import Claim
from budgetlr.study.analysis import cells
from budgetlr.study.report import to_markdown
from budgetlr.study.results import pooled_verdicts

UBA, COSINE, LINEAR = "uba(warmup=0.05)", "cosine(warmup=0.05)", "linear(warmup=0.05)"
CLAIM = Claim("2505.24452", UBA, (COSINE,), (LINEAR,), (0.1, 0.25))


def trial(workload, schedule, budget, seed, loss):
    key = f"{workload}-{schedule}-{budget}-{seed}"
    return Trial(
        key, "0", 2, workload, schedule, budget, 0.1, seed, 100, "ok", "accuracy", True,
        0.9, 0.9, 1.0, 100.0, "", val_loss=loss, test_loss=loss, test_loss_se=0.01,
    )  # fmt: skip


def synthetic(ratio_to_cosine):
    rng = np.random.default_rng(3)
    trials = []
    for workload, scale in (("a", 1.0), ("b", 3.0)):
        for budget in (0.1, 0.25, 0.5, 1.0):
            for seed in range(8):
                base = scale * math.exp(rng.normal(0, 0.05))  # shared by the seed's runs: pairing removes it
                noise = rng.normal(0, 0.005, 3)
                for schedule, ratio, e in (
                    (COSINE, 1.0, noise[0]),
                    (LINEAR, 1.0, noise[1]),
                    (UBA, ratio_to_cosine, noise[2]),
                ):
                    trials.append(trial(workload, schedule, budget, seed, base * ratio * math.exp(e)))
    return trials


def rows_of(text):
    return [line for line in text.splitlines() if line.startswith(("| cosine", "| linear"))]


def test_a_planted_effect_is_found_with_its_sign_and_a_tie_is_a_tie():
    text = to_markdown(pooled_verdicts(cells(synthetic(0.95)), CLAIM, str))
    rows = rows_of(text)
    assert len(rows) == 4  # 2 baselines x 2 regimes
    for row in rows:
        parts = [p.strip().strip("*") for p in row.strip("|").split("|")]
        change, interval, says = parts[2:5]
        low, high = (float(x.strip("%")) for x in interval.strip("[]").split(", "))
        assert low <= -5.0 <= high and high < 0  # uba 5% lower than both, covered
        assert float(change.strip("%")) == pytest.approx(-5.0, abs=0.5)
        assert says == f"{UBA} lower"
        assert parts[5] == "2 (4 cells)" and parts[6] == "8"
    assert "each at 98.75%" in text  # Bonferroni over 4 comparisons


def test_equal_losses_are_ties_and_the_page_is_the_same_on_every_run():
    text = to_markdown(pooled_verdicts(cells(synthetic(1.0)), CLAIM, str))
    assert all("| tie |" in row for row in rows_of(text))
    assert text == to_markdown(pooled_verdicts(cells(synthetic(1.0)), CLAIM, str))


def test_without_held_out_losses_the_page_says_so():
    old = [
        Trial("k", "0.2.0", 1, "a", s, 0.1, 0.1, seed, 100, "ok", "accuracy", True, 0.9, 0.9, 1.0, 100.0, "")
        for s in (UBA, COSINE)
        for seed in range(3)
    ]
    assert "holds no paired trials with held-out losses" in to_markdown(
        pooled_verdicts(cells(old), CLAIM, str)
    )
