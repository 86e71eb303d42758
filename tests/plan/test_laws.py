import numpy as np
import pytest
from benchmarks.plan_mpl import AUTHORS_PARAMETERS, authors_lrs

from budgetlr.plan import laws
from budgetlr.plan.laws import LAWS, features, predicted_loss

#: The Multi-Power Law authors' fitted 400M parameters (L0, A, alpha, B, C, beta, gamma).
AUTHORS_400M = AUTHORS_PARAMETERS["400"]


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
    # LRs 1, 1, 0.5 after 0 before step 0: a rise of 1 at step 0 and a drop of 0.5 at step 2.
    # G(x) = 1 - 1 / (1 + x) with C = beta = gamma = 1; x = S_k(t) / eta_k.
    theta = [1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]  # L0 A alpha B C beta gamma
    loss = predicted_loss("mpl", theta, np.array([1.0, 1.0, 0.5]), np.array([1, 2]))
    assert loss[0] == pytest.approx(1 + 1 / 2 - 2 * (-1) * (2 / 3))  # x = 2 for the rise
    assert loss[1] == pytest.approx(1 + 1 / 2.5 - 2 * ((-1) * (5 / 7) + 0.5 * (1 / 2)))  # x = 2.5 and 1


def test_multi_power_law_counts_the_rise_from_lr_0_before_step_0():
    # A warmup from 0.5 to 1 rises 1 in all, 0.5 of it from the LR 0 before step 0: with G = 1,
    # LD = B * (-1) whatever the LR of step 0.
    theta = [1.0, 0.0, 1.0, 2.0, 1e6, 1.0, 0.0]  # A = 0 and a huge C: G = 1 after any LR sum
    from_floor = predicted_loss("mpl", theta, np.array([0.5, 1.0, 1.0, 1.0]), np.array([3]))
    assert from_floor == pytest.approx([1 + 2 * 1.0], rel=1e-5)


def test_annealing_law_by_hand():
    # A memory of 2 steps: lambda = 1 - 1 / 2 = 0.5; the LR halves at step 20:
    # m_20 = 0.5, m_21 = 0.25, so S2(21) = 0.75, and S1(21) = 20 + 2 * 0.5 = 21.
    lrs = np.where(np.arange(40) < 20, 1.0, 0.5)
    loss = predicted_loss("tissue", [1.0, 1.0, 1.0, 0.1, 2.0], lrs, np.array([19, 21]))
    assert loss == pytest.approx([1 + 1 / 20, 1 + 1 / 21 - 0.1 * 0.75])


def test_annealing_law_ignores_the_warmup():
    # A warmup over steps 0..9, then constant: S2 stays 0, so only the power part remains.
    lrs = np.concatenate([np.linspace(0.1, 1.0, 10), np.ones(30)])
    loss = predicted_loss("tissue", [1.0, 1.0, 1.0, 0.1, 5.0], lrs, np.array([30]))
    assert loss == pytest.approx([1 + 1 / (5.5 + 21)])


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
        "tissue": [2.3, 0.6, 0.4, 10.0, 300.0],
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


def test_a_72000_step_run_is_predicted_at_each_of_its_logged_points():
    # The evaluation runs in blocks; a point's loss must not depend on the block it falls in.
    lrs = authors_lrs("cosine_72000")
    steps = np.arange(2176, 72000, 128)
    predicted = predicted_loss("mpl", AUTHORS_400M, lrs, steps)
    assert predicted.size == 546
    for index in (0, 100, 545):
        alone = predicted_loss("mpl", AUTHORS_400M, lrs, steps[index : index + 1])
        assert predicted[index] == pytest.approx(alone[0], rel=1e-12)


def test_a_wrong_number_of_parameters_is_refused_naming_them():
    with pytest.raises(ValueError, match=r"tissue takes 5 parameters \(L0, A, alpha, C, memory\), got 4"):
        predicted_loss("tissue", [1.0, 1.0, 1.0, 1.0], np.ones(10), np.array([5]))


def test_an_unknown_law_is_refused_naming_the_choices():
    with pytest.raises(ValueError, match=r"unknown law 'mpx'.*mpl, tissue, reduced, power"):
        laws.law_named("mpx")
