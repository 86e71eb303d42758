import doctest

import numpy as np
import pytest
from benchmarks.plan_mpl import authors_lrs

from budgetlr.plan import bound, laws, runs
from budgetlr.plan.laws import LAWS, features, predicted_loss

#: The Multi-Power Law authors' fitted 400M parameters (L0, A, alpha, B, C, beta, gamma).
AUTHORS_400M = [2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493, 0.63472457]


def test_docstring_examples_run():
    for module in (laws, runs, bound):
        assert doctest.testmod(module).failed == 0


@pytest.mark.parametrize(
    "run, step, expected",
    # The authors' formula and 400M parameters, at the last logged step of each 24k run.
    [
        ("cosine_24000", 23920, 2.75720),
        ("constant_24000", 23936, 2.81718),
        ("wsd_20000_24000", 23936, 2.70045),
    ],
)
def test_multi_power_law_matches_the_authors_predictions(run, step, expected):
    predicted = predicted_loss("mpl", AUTHORS_400M, authors_lrs(run), np.array([step]))
    assert predicted[0] == pytest.approx(expected, abs=5e-6)


def test_multi_power_law_on_a_tiny_run_by_hand():
    # LRs 1, 1, 0.5: one drop of 0.5 at step 2, so LD(2) = B * 0.5 * (1 - (1 + C * 0.5^-gamma * 0.5)^-beta).
    theta = [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]  # L0 A alpha B C beta gamma
    loss = predicted_loss("mpl", theta, np.array([1.0, 1.0, 0.5]), np.array([1, 2]))
    assert loss[0] == pytest.approx(1 + 1 / 2)
    assert loss[1] == pytest.approx(1 + 1 / 2.5 - 2 * 0.5 * (1 - 1 / 2))


def test_annealing_law_by_hand():
    # 40 steps, so lambda = 1 - 1 / (0.05 * 40) = 0.5; the LR halves at step 20:
    # m_20 = 0.5, m_21 = 0.25, so S2(21) = 0.75, and S1(21) = 20 + 2 * 0.5 = 21.
    lrs = np.where(np.arange(40) < 20, 1.0, 0.5)
    loss = predicted_loss("tissue", [1.0, 1.0, 1.0, 0.1], lrs, np.array([19, 21]))
    assert loss == pytest.approx([1 + 1 / 20, 1 + 1 / 21 - 0.1 * 0.75])


def test_reduced_and_step_power_laws_by_hand():
    lrs = np.array([0.5, 1.0, 1.0, 0.25])
    assert predicted_loss("reduced", [1.0, 2.0, 1.0, 4.0], lrs, np.array([3])) == pytest.approx(
        [1 + 2 / 2.75 - 4 * 0.75]
    )
    assert predicted_loss("power", [1.0, 2.0, 2.0], lrs, np.array([3])) == pytest.approx([1 + 2 / 16])


@pytest.mark.parametrize("law", list(LAWS))
def test_each_gradient_matches_finite_differences(law):
    theta = {
        "mpl": AUTHORS_400M,
        "tissue": [2.3, 0.6, 0.4, 10.0],
        "reduced": [2.3, 0.6, 0.4, 500.0],
        "power": [2.0, 1.0, 0.5],
    }[law]
    lrs = authors_lrs("wsdld_20000_24000")[::8]
    run = features(lrs, np.arange(300, lrs.size, 97))
    theta = np.array(theta)
    _, jacobian = LAWS[law].predict(theta, run, gradient=True)
    for index in range(theta.size):
        step = 1e-6 * abs(theta[index])
        up, down = theta.copy(), theta.copy()
        up[index] += step
        down[index] -= step
        numeric = (LAWS[law].predict(up, run)[0] - LAWS[law].predict(down, run)[0]) / (2 * step)
        assert jacobian[:, index] == pytest.approx(numeric, rel=1e-4, abs=1e-9)


def test_a_72000_step_run_is_predicted_at_its_logged_points_quickly():
    import time

    lrs = authors_lrs("cosine_72000")
    steps = np.arange(2176, 72000, 128)
    started = time.perf_counter()
    predicted = predicted_loss("mpl", AUTHORS_400M, lrs, steps)
    assert time.perf_counter() - started < 5  # the docs give the measured time; this only catches a blow-up
    assert predicted.size == 546 and np.isfinite(predicted).all()


def test_an_unknown_law_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"unknown law 'mpx'.*mpl, tissue, reduced, power"):
        laws.law_named("mpx")
