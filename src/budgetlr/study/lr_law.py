"""The tuned peak LR as a power law of the budget, ``lr*(T) = a T^b`` (the Power scheduler's law,
arXiv 2408.13359), with a bootstrap interval over seeds for the exponent."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from budgetlr.study.stats import Interval, bootstrap_interval, check_level


@dataclass(frozen=True)
class PowerLaw:
    """The tuned peak LR as a power of the budget, ``lr*(T) = a T^b``."""

    a: float
    b: float

    def predict(self, budget: float) -> float:
        """``a T^b``.

        >>> PowerLaw(a=0.1, b=-0.5).predict(4.0)
        0.05
        """
        return self.a * budget**self.b


def fit_power_law(budgets: ArrayLike, lrs: ArrayLike) -> PowerLaw:
    """Least squares in log-log: ``log lr = log a + b log T`` over the (budget, tuned LR) points,

        b = sum (x - x_bar)(y - y_bar) / sum (x - x_bar)^2,  log a = y_bar - b x_bar,

    with ``x = log T`` and ``y = log lr``. The Power scheduler (arXiv 2408.13359) fits this law of
    the peak LR against the number of training tokens. ``T`` may be in steps, tokens or fractions
    of a full budget: ``a`` depends on the unit, ``b`` does not.

    >>> law = fit_power_law([100, 400, 1600], [0.4, 0.2, 0.1])
    >>> round(law.a, 6), round(law.b, 6)
    (4.0, -0.5)
    """
    x = np.log(np.asarray(budgets, dtype=np.float64))
    y = np.log(np.asarray(lrs, dtype=np.float64))
    if x.shape != y.shape or x.ndim != 1 or np.unique(x).size < 2 or not np.all(np.isfinite(y)):
        raise ValueError("a power law needs positive (budget, LR) pairs at 2 or more distinct budgets")
    slope, intercept = _line(x, y)
    return PowerLaw(a=math.exp(intercept), b=float(slope))


def _line(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares slope and intercept of ``y`` on ``x`` along ``y``'s first axis, one line per
    column of any further axes."""
    dx = x - x.mean()
    slope = np.tensordot(dx, y - y.mean(axis=0), axes=1) / (dx @ dx)
    return slope, y.mean(axis=0) - slope * x.mean()


def tuned_lr(lrs: ArrayLike, losses: ArrayLike) -> float:
    """The LR of least validation loss, refined between grid points: the vertex of the parabola
    through the best grid point and its two neighbours in ``log lr``, which lies between the
    midpoints to those neighbours since the middle point is the lowest. At an edge of the grid,
    or next to a diverged LR (NaN loss, counted as worst), it is the grid point itself.

    Without refinement a grid a factor of 3 apart would quantise the tuned LR, and with it the
    power law's exponent, to steps of ``log 3``.

    >>> round(tuned_lr([0.1, 1.0, 10.0], [2.0, 1.0, 2.0]), 6)
    1.0
    >>> round(tuned_lr([0.1, 1.0, 10.0], [3.0, 1.0, 2.0]), 6)  # vertex at log10 lr = 1/6
    1.467799
    """
    grid = np.asarray(lrs, dtype=np.float64)
    order = np.argsort(grid)
    y = np.asarray(losses, dtype=np.float64)[order]
    return float(np.exp(_tuned_log_lr(np.log(grid[order]), y[:, None])[0]))


def _tuned_log_lr(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """:func:`tuned_lr` in ``log lr`` for every column of ``y`` (LRs x columns), ``x`` ascending."""
    y = np.where(np.isnan(y), np.inf, y)
    if not np.all(np.isfinite(y).any(axis=0)):
        raise ValueError("every LR diverged: no tuned LR")
    k = np.argmin(y, axis=0)
    columns = np.arange(y.shape[1])
    below, above = np.maximum(k - 1, 0), np.minimum(k + 1, len(x) - 1)
    y_below, y_best, y_above = y[below, columns], y[k, columns], y[above, columns]
    with np.errstate(divide="ignore", invalid="ignore"):
        left, left_rise = x[k] - x[below], y_best - y_below
        right, right_rise = x[k] - x[above], y_best - y_above
        denominator = left * right_rise - right * left_rise
        vertex = x[k] - 0.5 * (left**2 * right_rise - right**2 * left_rise) / denominator
    interior = (k > 0) & (k < len(x) - 1) & np.isfinite(y_below) & np.isfinite(y_above) & (denominator != 0)
    return np.where(interior, vertex, x[k])


def lr_power_law(
    sweep: Mapping[float, Mapping[float, ArrayLike]],
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 2_000,
) -> tuple[PowerLaw, Interval]:
    """The power law of the tuned LR in the budget, with a bootstrap interval for ``b`` over
    seeds.

    ``sweep[budget][lr]`` holds the validation losses by seed (NaN where a seed diverged, which
    makes that LR the worst). The point estimate tunes the LR at every budget on the mean over
    seeds (:func:`tuned_lr`) and fits :func:`fit_power_law`. The bootstrap resamples the seeds of
    each budget (the same resample for every LR of that budget, whose runs share seeds), tunes
    and fits again; the mean losses' deviations are scaled and the percentiles of the refitted
    ``b`` calibrated as in the module docstring, with ``nu`` one less than the fewest seeds of a
    budget. The interval measures how seed noise moves the tuned LRs; how far the true tuned LRs
    stray from a power law is not in it, so read a fit over 3 or 4 budgets with that in mind.
    Resampling the points instead would leave a handful of distinct fits, many of one budget only.

    >>> rng = np.random.default_rng(4)
    >>> sweep = {t: {lr: [1 + (np.log(lr * t**0.5)) ** 2] * 3 for lr in (0.03, 0.1, 0.3, 1.0)} for t in (4, 16, 64)}
    >>> law, b = lr_power_law(sweep, rng=rng)
    >>> round(law.b, 3), round(b.low, 3), round(b.high, 3)
    (-0.5, -0.5, -0.5)
    """
    check_level(level)
    budgets = sorted(sweep)
    grids = [_sweep_grid(sweep[t], t) for t in budgets]
    seeds = min(vals.shape[1] for _, vals in grids)
    if seeds < 2:
        raise ValueError("an interval for b needs 2 or more seeds at every budget")
    law = fit_power_law(budgets, [tuned_lr(lrs, vals.mean(axis=1)) for lrs, vals in grids])
    tuned = np.empty((len(budgets), n_boot))
    for row, (lrs, vals) in zip(tuned, grids, strict=True):
        n = vals.shape[1]
        means = vals.mean(axis=1, keepdims=True)
        resampled = vals[:, rng.integers(0, n, size=(n_boot, n))].mean(axis=2)
        row[:] = _tuned_log_lr(np.log(lrs), means + math.sqrt(n / (n - 1)) * (resampled - means))
    exponents, _ = _line(np.log(np.asarray(budgets, dtype=np.float64)), tuned)
    return law, bootstrap_interval(law.b, exponents, level, seeds - 1)


def _sweep_grid(by_lr: Mapping[float, ArrayLike], budget: float) -> tuple[np.ndarray, np.ndarray]:
    """The LRs of one budget and their validation losses as an (LR, seed) array."""
    lrs = np.array(sorted(by_lr), dtype=np.float64)
    rows = [np.asarray(by_lr[lr], dtype=np.float64) for lr in sorted(by_lr)]
    if not rows or len({r.shape for r in rows}) != 1 or rows[0].ndim != 1 or rows[0].size < 1:
        raise ValueError(f"budget {budget}: every LR needs the same seeds' validation losses")
    return lrs, np.stack(rows)
