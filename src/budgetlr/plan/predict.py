"""Predicting a schedule's loss curve from a fit, with a bootstrap interval, and saying when the
prediction leaves the fitted runs' range of peak LRs or horizons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from budgetlr.plan.fitting import Fit
from budgetlr.plan.laws import features, law_named
from budgetlr.plan.runs import FloatArray, IntArray
from budgetlr.schedules import schedule

#: A predicted curve holds about this many steps (the last step always among them).
CURVE_POINTS = 500
LEVEL = 0.95


@dataclass(frozen=True, eq=False)
class Prediction:
    """The predicted loss at ``steps``, with the bootstrap interval ``low..high`` (equal to the loss
    when the fit has no bootstrap samples), and why it is an extrapolation, if it is one."""

    steps: IntArray
    loss: FloatArray
    low: FloatArray
    high: FloatArray
    extrapolation: tuple[str, ...]

    @property
    def final_loss(self) -> float:
        return float(self.loss[-1])

    def to_json(self) -> dict[str, Any]:
        return {
            "steps": self.steps.tolist(),
            "loss": self.loss.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "final_loss": self.final_loss,
            "final_interval": [float(self.low[-1]), float(self.high[-1])],
            "level": LEVEL,
            "extrapolation": list(self.extrapolation),
        }


def predict_lrs(fit: Fit, lrs: FloatArray, steps: IntArray | None = None) -> Prediction:
    """The curve ``fit`` predicts for a run with LR ``lrs[t]`` at each step ``t``, at ``steps``
    (by default about 500 steps from the first one whose LR is not 0 to the last)."""
    lrs = np.asarray(lrs, dtype=np.float64)
    if steps is None:
        first = int(np.argmax(np.cumsum(lrs) > 0))
        steps = np.unique(np.linspace(first, lrs.size - 1, CURVE_POINTS).round().astype(np.int64))
    law, run = law_named(fit.law), features(lrs, steps)
    loss, _ = law.predict(fit.theta, run)
    if fit.samples:
        curves = np.array([law.predict(np.array(sample), run)[0] for sample in fit.samples])
        low, high = np.percentile(curves, [50 * (1 - LEVEL), 50 * (1 + LEVEL)], axis=0)
    else:
        low, high = loss.copy(), loss.copy()
    return Prediction(steps, loss, low, high, extrapolation(fit, float(lrs.max()), lrs.size))


def predict_schedule(fit: Fit, spec: str, total_steps: int, peak: float) -> Prediction:
    """The curve ``fit`` predicts for the budgetlr ``spec`` over ``total_steps`` at ``peak``.

    >>> from budgetlr.plan import Fit, RunFit
    >>> toy = Fit("power", {"L0": 2.0, "A": 1.0, "alpha": 0.5}, 0.0, (RunFit("a", 100, 0.1, 9, 0.0),), (), 0, 0.0)
    >>> prediction = predict_schedule(toy, "cosine", 400, 0.1)
    >>> round(prediction.final_loss, 3), prediction.extrapolation
    (2.05, ('horizon 400 steps lies past the longest fitted run (100 steps)',))
    """
    return predict_lrs(fit, schedule(spec, total_steps).lr(np.arange(total_steps), peak))


def extrapolation(fit: Fit, peak: float, total_steps: int) -> tuple[str, ...]:
    peaks = [run.peak for run in fit.runs]
    reasons = []
    if not min(peaks) * (1 - 1e-9) <= peak <= max(peaks) * (1 + 1e-9):
        reasons.append(f"peak LR {peak:.4g} lies outside the fitted runs' {min(peaks):.4g}..{max(peaks):.4g}")
    longest = max(run.total_steps for run in fit.runs)
    if total_steps > longest:
        reasons.append(f"horizon {total_steps} steps lies past the longest fitted run ({longest} steps)")
    return tuple(reasons)
