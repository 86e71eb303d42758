"""Verdicts with the workloads as a sample: Student's t over per-workload mean log-ratios, values
worked by hand with the printed t table (t_0.975(2) = 4.3027, t_0.975(3) = 3.1824)."""

import math

import pytest

from budgetlr.study.across import across_workloads, workload_means


def constant(ratio, seeds=3):
    return [ratio] * seeds, [1.0] * seeds


def test_three_workloads_by_hand():
    # m = log 0.9, log 0.8, 0: mean -0.109501, sd 0.111629, se 0.064449; half 4.3027 x se = 0.277303.
    cells = {"a": {0.1: constant(0.9)}, "b": {0.1: constant(0.8)}, "c": {0.1: constant(1.0)}}
    effect = across_workloads(cells)
    assert effect.interval.estimate == pytest.approx(-0.109501, abs=1e-6)
    assert effect.interval.low == pytest.approx(-0.386804, abs=1e-6)
    assert effect.interval.high == pytest.approx(0.167801, abs=1e-6)
    assert effect.interval.tie
    assert (effect.worst, effect.worst_effect) == ("c", 0.0)


def test_four_workloads_by_hand_and_the_worst_is_where_a_loses():
    # m = log 0.95, log 0.9, log 1.02, log 0.97: mean -0.041828, se 0.025906; half 3.1824 x se.
    ratios = {"w1": 0.95, "w2": 0.9, "w3": 1.02, "w4": 0.97}
    effect = across_workloads({w: {0.25: constant(r)} for w, r in ratios.items()})
    assert (effect.interval.low, effect.interval.high) == pytest.approx((-0.124273, 0.040617), abs=1e-6)
    assert effect.worst == "w3" and effect.worst_effect == pytest.approx(0.02, rel=1e-12)


def test_a_workloads_budgets_weigh_the_same_whatever_their_seeds():
    # Budget 0.1 at 0.8 (4 seeds) and 0.5 at 1.0 (2 seeds): the workload's mean is log(0.8) / 2.
    means = workload_means({"w": {0.1: constant(0.8, seeds=4), 0.5: constant(1.0, seeds=2)}})
    assert means["w"] == pytest.approx(math.log(0.8) / 2, rel=1e-12)


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ({"a": {0.1: constant(0.9)}}, "at least 2 workloads, got 1"),
        ({"a": {0.1: constant(0.9)}, "b": {}}, "workload 'b' has no cells"),
        (
            {"a": {0.1: ([0.9, 0.0], [1.0, 1.0])}, "b": {0.1: constant(0.9)}},
            "losses must be finite and positive",
        ),
        ({"a": {0.1: ([0.9, 0.9], [1.0])}, "b": {0.1: constant(0.9)}}, "two vectors of one length"),
    ],
)
def test_what_cannot_be_judged_is_refused(cells, message):
    with pytest.raises(ValueError, match=message):
        across_workloads(cells)
