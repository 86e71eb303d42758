import numpy as np
import pytest

from budgetlr.plan import Fit, RunFit, predict_lrs, predict_schedule
from budgetlr.schedules import schedule

POWER = Fit(
    law="power",
    parameters={"L0": 2.0, "A": 1.0, "alpha": 0.5},
    objective=0.0,
    runs=(RunFit("a", 1000, 0.1, 20, 0.0), RunFit("b", 2000, 0.2, 20, 0.0)),
    samples=((1.9, 1.0, 0.5), (2.0, 1.0, 0.5), (2.1, 1.0, 0.5)),
    seed=0,
    seconds=0.0,
)


def test_the_interval_comes_from_the_bootstrap_samples():
    prediction = predict_lrs(POWER, np.full(100, 0.1), np.array([99]))
    assert prediction.loss == pytest.approx([2.1])  # 2 + 100^-0.5
    # The 2.5% and 97.5% percentiles of 2.0, 2.1 and 2.2 (numpy's linear interpolation).
    assert prediction.low == pytest.approx([2.005]) and prediction.high == pytest.approx([2.195])


def test_an_array_spec_replays_a_recorded_curve():
    recorded = predict_schedule(POWER, "array(values=[1, 1, 0.5, 0.25])", 4, 0.2)
    assert recorded.steps.tolist()[-1] == 3 and recorded.final_loss == pytest.approx(2 + 4**-0.5)


def test_default_steps_run_from_the_first_step_with_an_lr_to_the_last():
    lrs = schedule("linear", 10_000).lr(np.arange(10_000), 0.1)
    prediction = predict_lrs(POWER, lrs)
    assert prediction.steps[0] == 0 and prediction.steps[-1] == 9_999 and 400 <= prediction.steps.size <= 500


@pytest.mark.parametrize(
    "peak, steps, reasons",
    [
        (0.1, 1000, []),
        (0.2, 2000, []),
        (0.3, 1000, ["peak LR 0.3 lies outside the fitted runs' 0.1..0.2"]),
        (
            0.05,
            3000,
            ["peak LR 0.05 lies outside", "horizon 3000 steps lies past the longest fitted run (2000 steps)"],
        ),
    ],
)
def test_a_peak_or_horizon_outside_the_fitted_runs_is_labelled(peak, steps, reasons):
    extrapolation = predict_schedule(POWER, "cosine", steps, peak).extrapolation
    assert len(extrapolation) == len(reasons)
    assert all(reason in said for reason, said in zip(reasons, extrapolation, strict=True))
