import numpy as np
import pytest

from budgetlr.plan import tuned_bound
from budgetlr.schedules import schedule


@pytest.mark.parametrize(
    "total_steps, spec, base_lr, bound",
    # Reference values recomputed from Defazio et al.'s Theorem 10 with D = G = 1.
    [
        (1000, "constant", 0.01086, 0.09211),
        (1000, "cosine", 0.03062, 0.06524),
        (1000, "linear", 0.03150, 0.06343),
        (1000, "wsd(decay=0.2, shape=linear)", 0.01616, 0.06871),
        (100, "linear", 0.09726, 0.20361),
    ],
)
def test_tuned_bound_matches_the_table(total_steps, spec, base_lr, bound):
    result = tuned_bound(schedule(spec, total_steps).multiplier(np.arange(total_steps)))
    assert result.base_lr == pytest.approx(base_lr, abs=5e-6)
    assert result.bound == pytest.approx(bound, abs=5e-6)


def test_tuned_bound_of_a_constant_schedule_by_hand():
    # T = 100, s = 1: t1 = 1/200, t2 = 1/2, t3 = H_99 / 2, so gamma* = sqrt(t1 / (t2 + t3)).
    harmonic = sum(1 / n for n in range(1, 100))
    t1, rest = 1 / 200, 0.5 + harmonic / 2
    result = tuned_bound(np.ones(100), distance=1.0, gradient_bound=1.0)
    assert result.base_lr == pytest.approx(np.sqrt(t1 / rest))
    assert result.bound == pytest.approx(2 * np.sqrt(t1 * rest))


def test_base_lr_scales_with_distance_over_gradient_bound():
    s = np.linspace(1, 0.01, 500)
    assert tuned_bound(s, 2.0, 1.0).base_lr == pytest.approx(2 * tuned_bound(s).base_lr)
    assert tuned_bound(s, 1.0, 2.0).bound == pytest.approx(2 * tuned_bound(s).bound)


@pytest.mark.parametrize("bad", [[], [0.0, 0.0], [1.0, -0.1], [1.0, np.nan]])
def test_bad_multipliers_are_refused(bad):
    with pytest.raises(ValueError, match="convex bound"):
        tuned_bound(bad)
