"""Statistics for the study's verdicts: paired and pooled log-ratios of losses with bootstrap
intervals, a family-wise correction, held-out sampling noise, the peak LR's power law in the
budget, and a leave-one-workload-out test of a schedule recommender.

Plain numpy and the standard library, deterministic given a ``numpy.random.Generator``.

**Effects are log-ratios of losses.** For schedules A and B run with the same seeds,
``d_i = log(L_A,i / L_B,i)``: scale-free, so cross-entropy, bits per byte and excess risk pool
together; antisymmetric (A against B is minus B against A); and a mean log-ratio is the log of a
geometric-mean loss ratio, reported as ``100 (exp(d) - 1)`` percent. Negative means A's loss is
lower.

**Intervals: a calibrated bootstrap over seeds.** The plain percentile bootstrap of a mean of
``n`` values is too narrow for the 4 to 8 seeds of a study: its spread is ``sqrt((n-1)/n)`` of
the standard error, and its tails are normal ones where Student's ``t(n-1)`` applies. Two
corrections give the *expanded percentile interval*
(Hesterberg, "What teachers should know about the bootstrap", The American Statistician 69(4),
2015): every resampled mean's deviation from the sample mean is scaled by ``sqrt(n/(n-1))``, and
the percentiles are taken at ``alpha'/2`` and ``1 - alpha'/2`` where
``Phi^-1(1 - alpha'/2) = t_{1-alpha/2}(nu)``. For a weighted sum of cell means ``nu`` is the
Welch-Satterthwaite degrees of freedom

    nu = (sum_c w_c^2 s_c^2 / n_c)^2 / sum_c (w_c^2 s_c^2 / n_c)^2 / (n_c - 1).

A percentile interval cannot reach past the range of its resamples, which with 3 or 4 seeds in
a cell, or at a Bonferroni-corrected level of 99.5% and beyond, falls short of the tail it
should find. So the interval is never narrower than ``estimate -/+ t_{1-alpha/2}(nu) se``, with
``se`` the standard deviation of the scaled bootstrap replicates: the normal-theory width sets a
floor, and the percentiles keep whatever skew the data have beyond it. docs/statistics.md shows
the coverage this gives on synthetic data.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> effect = paired_log_ratio([0.90, 0.80, 1.00, 0.85], [1.0, 0.9, 1.1, 0.95], rng=rng)
>>> effect.high < 0, round(effect.percent().estimate, 1)
(True, -10.2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike

#: Resamples per chunk times values per resample: bounds the memory of one resampling step.
_CHUNK_VALUES = 1 << 22


@dataclass(frozen=True)
class Interval:
    """An estimate with its two-sided confidence interval ``[low, high]`` at ``level``."""

    estimate: float
    low: float
    high: float
    level: float

    def covers(self, value: float = 0.0) -> bool:
        return self.low <= value <= self.high

    @property
    def tie(self) -> bool:
        """A log-ratio interval that covers 0: the data do not tell the two schedules apart."""
        return self.covers(0.0)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2.0

    def percent(self) -> Interval:
        """A log-ratio as the percentage change of the loss, ``100 (exp(x) - 1)``.

        >>> round(Interval(math.log(0.9), math.log(0.8), math.log(1.0), 0.95).percent().low, 6)
        -20.0
        """

        def pct(x: float) -> float:
            return 100.0 * math.expm1(x)

        return Interval(pct(self.estimate), pct(self.low), pct(self.high), self.level)


def bonferroni_level(level: float, comparisons: int) -> float:
    """The per-interval level that gives ``m = comparisons`` intervals a simultaneous ``level``:
    ``1 - (1 - level) / m``.

    Bonferroni rather than Holm: the verdicts are effect sizes with intervals, and Bonferroni
    adjusts the intervals themselves, where Holm adjusts only the accept/reject decisions and has
    no simple matching intervals. It holds for any dependence between the comparisons, which
    matters here: all comparisons against one baseline share its runs, and all share the seeds.
    Its price, conservatism when the comparisons are strongly correlated, is paid in width.

    >>> bonferroni_level(0.95, 10)
    0.995
    """
    if comparisons < 1:
        raise ValueError(f"comparisons must be at least 1, got {comparisons}")
    _check_level(level)
    return 1.0 - (1.0 - level) / comparisons


def paired_log_ratio(
    losses_a: ArrayLike,
    losses_b: ArrayLike,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 10_000,
) -> Interval:
    """Mean over seeds of ``log(L_A / L_B)``, the two loss vectors aligned by seed, with the
    calibrated bootstrap interval over seeds of the module docstring. A tie covers 0.

    >>> rng = np.random.default_rng(1)
    >>> paired_log_ratio([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], rng=rng)
    Interval(estimate=0.0, low=0.0, high=0.0, level=0.95)
    """
    return _weighted_bootstrap([_log_ratios(losses_a, losses_b)], [1.0], rng, level, n_boot)


def pooled_log_ratio(
    cells: Mapping[str, Mapping[float, tuple[ArrayLike, ArrayLike]]],
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 10_000,
) -> Interval:
    """Schedule A against baseline B pooled over the cells of a budget regime.

    ``cells[workload][budget] = (losses_A, losses_B)``, each aligned by seed. The effect is

        theta = (1/W) sum_w (1/B_w) sum_b mean_i log(L_A,wbi / L_B,wbi),

    every workload weighing the same whatever its number of budgets, so a workload with more
    cells does not dominate. The interval is a hierarchical bootstrap that resamples seeds,
    independently across workloads, calibrated as in the module docstring. A workload's cells hold
    the same seeds in the same order: a seed's runs at different budgets share an initialisation
    and batch order, so their log-ratios may correlate, and the bootstrap resamples seeds jointly
    across that workload's budgets (it averages each seed's log-ratios over the budgets first). It
    treats the workloads as fixed: the question is "on these workloads, is A's loss lower than B's beyond
    seed noise?". Resampling the workloads themselves would answer "on a new workload", but with
    3 to 5 workloads its bootstrap distribution has a handful of distinct values and no useful
    percentiles; the leave-one-workload-out evaluation answers that question instead.

    >>> rng = np.random.default_rng(2)
    >>> cells = {
    ...     "quadratic": {0.1: ([0.9, 1.8, 2.7], [1, 2, 3]), 0.25: ([0.45, 0.9, 1.8], [0.5, 1, 2])},
    ...     "mnist1d-cnn": {0.1: ([0.4, 0.5, 0.6], [0.4, 0.5, 0.6])},
    ... }
    >>> round(pooled_log_ratio(cells, rng=rng).percent().estimate, 2)
    -5.13
    """
    if not cells:
        raise ValueError("no cells to pool")
    samples, weights = [], []
    for workload, by_budget in cells.items():
        if not by_budget:
            raise ValueError(f"workload {workload!r} has no cells")
        ratios = [_log_ratios(losses_a, losses_b) for losses_a, losses_b in by_budget.values()]
        if len({r.size for r in ratios}) != 1:
            raise ValueError(f"the cells of workload {workload!r} must hold the same seeds, in one order")
        samples.append(np.mean(ratios, axis=0))
        weights.append(1.0 / len(cells))
    return _weighted_bootstrap(samples, weights, rng, level, n_boot)


def pooled_family(
    family: Mapping[str, Mapping[str, Mapping[float, tuple[ArrayLike, ArrayLike]]]],
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 10_000,
) -> dict[str, Interval]:
    """:func:`pooled_log_ratio` for each comparison of a family (e.g. one schedule against every
    baseline in every budget regime), each interval at :func:`bonferroni_level` so that all of
    them hold together with probability at least ``level``. Each interval's ``level`` field is the
    adjusted per-interval level."""
    adjusted = bonferroni_level(level, len(family))
    return {
        name: pooled_log_ratio(cells, rng=rng, level=adjusted, n_boot=n_boot)
        for name, cells in family.items()
    }


def example_bootstrap(
    per_example_losses: ArrayLike,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 2_000,
) -> Interval:
    """Held-out sampling noise: the mean loss over test examples with a bootstrap interval over
    the examples, to set next to the differences between schedules.

    An example must be a unit of independence: for a language model pass one mean loss per
    held-out sequence, not per byte (bytes within a sequence are correlated and would make the
    interval too narrow). With thousands of examples the calibration of the module docstring
    changes nothing and this is the plain percentile bootstrap.

    >>> rng = np.random.default_rng(3)
    >>> noise = example_bootstrap(np.linspace(0.0, 2.0, 4001), rng=rng)
    >>> noise.estimate, round(noise.half_width, 2)
    (1.0, 0.02)
    """
    losses = np.asarray(per_example_losses, dtype=np.float64)
    if losses.ndim != 1 or losses.size < 2 or not np.all(np.isfinite(losses)):
        raise ValueError("per-example losses must be a flat vector of at least 2 finite values")
    return _weighted_bootstrap([losses], [1.0], rng, level, n_boot)


def _log_ratios(losses_a: ArrayLike, losses_b: ArrayLike) -> np.ndarray:
    a = np.asarray(losses_a, dtype=np.float64)
    b = np.asarray(losses_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"paired losses must be two vectors of one length, got shapes {a.shape} and {b.shape}"
        )
    if a.size < 2:
        raise ValueError(f"a paired comparison needs at least 2 seeds, got {a.size}")
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b)) and np.all(a > 0) and np.all(b > 0)):
        raise ValueError("losses must be finite and positive (log-ratios of losses)")
    return np.log(a / b)


def _weighted_bootstrap(
    samples: Sequence[np.ndarray],
    weights: Sequence[float],
    rng: np.random.Generator,
    level: float,
    n_boot: int,
) -> Interval:
    """``sum_c w_c mean(x_c)`` with the calibrated interval of the module docstring, resampling
    within each sample ``x_c`` independently."""
    _check_level(level)
    if n_boot < 1:
        raise ValueError(f"n_boot must be at least 1, got {n_boot}")
    means = np.array([x.mean() for x in samples])
    w = np.asarray(weights, dtype=np.float64)
    estimate = float(w @ means)
    # Per-cell variance of the weighted mean, w_c^2 s_c^2 / n_c, for Welch-Satterthwaite.
    parts = np.array([wc**2 * x.var(ddof=1) / x.size for wc, x in zip(w, samples, strict=True)])
    if parts.sum() == 0.0:
        return Interval(estimate, estimate, estimate, level)
    dfs = np.array([x.size - 1 for x in samples], dtype=np.float64)
    nu = parts.sum() ** 2 / np.sum(parts**2 / dfs)

    replicate = np.full(n_boot, estimate)
    for wc, x, mean in zip(w, samples, means, strict=True):
        n = x.size
        resampled = np.empty(n_boot)
        chunk = max(1, _CHUNK_VALUES // n)
        for start in range(0, n_boot, chunk):
            stop = min(n_boot, start + chunk)
            resampled[start:stop] = x[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
        replicate += wc * math.sqrt(n / (n - 1)) * (resampled - mean)
    return _bootstrap_interval(estimate, replicate, level, nu)


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")


def _bootstrap_interval(estimate: float, replicates: np.ndarray, level: float, df: float) -> Interval:
    """The expanded percentile interval of ``replicates`` (module docstring), widened where it
    falls short of ``estimate -/+ t_{(1+level)/2}(df) sd(replicates)``."""
    t = student_t_quantile(0.5 + level / 2.0, df)
    tail = 1.0 - NormalDist().cdf(t)
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    spread = t * float(replicates.std())
    return Interval(estimate, min(float(low), estimate - spread), max(float(high), estimate + spread), level)


def student_t_quantile(p: float, df: float) -> float:
    """The ``p``-quantile of Student's t with ``df > 0`` (real) degrees of freedom, ``p >= 1/2``,
    by bisection on ``P(T > t) = I_{df/(df+t^2)}(df/2, 1/2) / 2``.

    >>> round(student_t_quantile(0.975, 7), 4)
    2.3646
    """
    if not 0.5 <= p < 1.0 or not df > 0:
        raise ValueError(f"need 0.5 <= p < 1 and df > 0, got p={p}, df={df}")
    upper = 1.0 - p
    lo, hi = 0.0, 1.0
    while _regularized_beta(df / (df + hi * hi), df / 2.0, 0.5) / 2.0 > upper:
        lo, hi = hi, 2.0 * hi
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if _regularized_beta(df / (df + mid * mid), df / 2.0, 0.5) / 2.0 > upper:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * hi:
            break
    return (lo + hi) / 2.0


def _regularized_beta(x: float, a: float, b: float) -> float:
    """``I_x(a, b)`` by its continued fraction (modified Lentz), on the side where it converges
    fast (Numerical Recipes, 3rd ed., section 6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_fraction(x, a, b) / a
    return 1.0 - front * _beta_fraction(1.0 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    tiny = 1e-300

    def guard(v: float) -> float:
        return v if abs(v) > tiny else tiny

    c, d = 1.0, 1.0 / guard(1.0 - (a + b) * x / (a + 1.0))
    h = d
    for m in range(1, 300):
        even = m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m))
        d = 1.0 / guard(1.0 + even * d)
        c = guard(1.0 + even / c)
        h *= d * c
        odd = -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))
        d = 1.0 / guard(1.0 + odd * d)
        c = guard(1.0 + odd / c)
        h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return h


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
    _check_level(level)
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
    return law, _bootstrap_interval(law.b, exponents, level, seeds - 1)


@dataclass(frozen=True)
class LrTransfer:
    """A power law fitted on the smaller budgets, its prediction at the largest, and the LR tuned
    there."""

    fit: PowerLaw
    budget: float
    predicted_lr: float
    tuned_lr: float

    @property
    def log_error(self) -> float:
        """``log(predicted / tuned)``: 0 is a perfect transfer, ``log 3`` one grid step too high."""
        return math.log(self.predicted_lr / self.tuned_lr)


def lr_transfer(sweep: Mapping[float, Mapping[float, ArrayLike]]) -> LrTransfer:
    """The transfer test: fit the power law on every budget of ``sweep`` but the largest
    (``sweep`` as in :func:`lr_power_law`), predict the LR at the largest, and set it next to the
    LR tuned there. The loss regret of the predicted LR needs a run at that LR; this does not
    guess it.

    >>> sweep = {t: {lr: [1 + (np.log(lr * t**0.5)) ** 2] * 2 for lr in (0.03, 0.1, 0.3, 1.0)} for t in (4, 16, 64)}
    >>> result = lr_transfer(sweep)
    >>> result.budget, round(result.predicted_lr, 6), round(result.tuned_lr, 6)
    (64, 0.125, 0.125)
    """
    budgets = sorted(sweep)
    if len(budgets) < 3:
        raise ValueError(f"the transfer test needs 3 or more budgets, got {len(budgets)}")
    tuned = {t: tuned_lr(*_mean_grid(sweep[t], t)) for t in budgets}
    law = fit_power_law(budgets[:-1], [tuned[t] for t in budgets[:-1]])
    largest = budgets[-1]
    return LrTransfer(law, largest, law.predict(largest), tuned[largest])


def _sweep_grid(by_lr: Mapping[float, ArrayLike], budget: float) -> tuple[np.ndarray, np.ndarray]:
    """The LRs of one budget and their validation losses as an (LR, seed) array."""
    lrs = np.array(sorted(by_lr), dtype=np.float64)
    rows = [np.asarray(by_lr[lr], dtype=np.float64) for lr in sorted(by_lr)]
    if not rows or len({r.shape for r in rows}) != 1 or rows[0].ndim != 1 or rows[0].size < 1:
        raise ValueError(f"budget {budget}: every LR needs the same seeds' validation losses")
    return lrs, np.stack(rows)


def _mean_grid(by_lr: Mapping[float, ArrayLike], budget: float) -> tuple[np.ndarray, np.ndarray]:
    lrs, vals = _sweep_grid(by_lr, budget)
    return lrs, vals.mean(axis=1)


@dataclass(frozen=True)
class HeldOutCell:
    """The recommender scored on one (workload, budget) it was not fitted on."""

    workload: str
    budget: float
    pick: str
    best: str
    #: loss of the pick over the cell's best, minus 1
    excess: float
    #: loss of the pick over the best single fixed schedule's, minus 1 (negative: the pick is better)
    excess_over_fixed: float
    #: the pick is the cell's best or its paired interval against the best covers 0; None without per-seed data
    best_or_tied: bool | None


@dataclass(frozen=True)
class LeaveOneWorkloadOut:
    """Every held-out cell, the best single fixed schedule, and summaries over the cells."""

    cells: list[HeldOutCell]
    fixed: str

    @property
    def mean_excess(self) -> float:
        """Geometric-mean loss ratio of the pick over the cell's best, minus 1."""
        return math.expm1(float(np.mean([math.log1p(c.excess) for c in self.cells])))

    @property
    def mean_excess_over_fixed(self) -> float:
        """Geometric-mean loss ratio of the pick over the best single fixed schedule, minus 1."""
        return math.expm1(float(np.mean([math.log1p(c.excess_over_fixed) for c in self.cells])))

    @property
    def share_best_or_tied(self) -> float:
        """The share of cells where the pick is the best or tied with it (NaN without per-seed data)."""
        judged = [c.best_or_tied for c in self.cells if c.best_or_tied is not None]
        return float(np.mean(judged)) if judged else math.nan


def leave_one_workload_out(
    means: Mapping[str, Mapping[float, Mapping[str, float]]],
    per_seed: Mapping[str, Mapping[float, Mapping[str, ArrayLike]]] | None = None,
    *,
    rng: np.random.Generator,
    level: float = 0.95,
    n_boot: int = 10_000,
) -> LeaveOneWorkloadOut:
    """Leave-one-workload-out evaluation of the recommender "at budget T, use the schedule of
    least pooled log-loss relative to each cell's best".

    ``means[workload][budget][schedule]`` is a cell's mean test loss at its tuned LR. For each
    held-out workload ``h`` and budget ``T`` the pick is

        argmin_s  mean_{w != h} log(L[w][T][s] / min_s' L[w][T][s']),

    over the schedules present in every cell at ``T`` (ties go to the first name in sorted order),
    and its regret on ``h`` is ``L[h][T][pick] / min_s L[h][T][s] - 1``; a budget of ``h`` that
    no other workload ran (with a schedule ``h`` ran) is not judged. The best single fixed
    schedule is the one schedule of least mean log-loss relative to each cell's best over the
    whole table (every workload weighing the same): the best "always use X" in hindsight, so a
    negative excess over it says that choosing by budget pays. With ``per_seed`` (the same cells'
    test losses, aligned by seed within each (workload, budget); a cell may be missing) a pick
    other than the best counts as tied when :func:`paired_log_ratio` against the best covers 0.

    >>> means = {
    ...     "a": {1.0: {"cosine": 1.0, "linear": 1.1}},
    ...     "b": {1.0: {"cosine": 2.0, "linear": 2.4}},
    ...     "c": {1.0: {"cosine": 3.9, "linear": 3.0}},
    ... }
    >>> result = leave_one_workload_out(means, rng=np.random.default_rng(5))
    >>> [(c.workload, c.pick, round(c.excess, 6), round(c.excess_over_fixed, 6)) for c in result.cells]
    [('a', 'linear', 0.1, 0.1), ('b', 'linear', 0.2, 0.2), ('c', 'cosine', 0.3, 0.0)]
    >>> result.fixed
    'cosine'
    """
    workloads = sorted(means)
    if len(workloads) < 2:
        raise ValueError(f"leave-one-workload-out needs 2 or more workloads, got {len(workloads)}")
    fixed = _least_log_excess([list(means[w].values()) for w in workloads])
    cells = []
    for held_out in workloads:
        for budget in sorted(means[held_out]):
            others = [[means[w][budget]] for w in workloads if w != held_out and budget in means[w]]
            target = means[held_out][budget]
            candidates = set(target).intersection(*(cells[0] for cells in others))
            if not (others and candidates):  # a budget (or schedules) no other workload ran
                continue
            pick = _least_log_excess(others, among=set(target))
            best = min(sorted(target), key=target.__getitem__)
            tied: bool | None = None
            seeds = (per_seed or {}).get(held_out, {}).get(budget, {})
            if pick in seeds and best in seeds:
                tied = (
                    pick == best
                    or paired_log_ratio(seeds[pick], seeds[best], rng=rng, level=level, n_boot=n_boot).tie
                )
            excess, over_fixed = target[pick] / target[best] - 1.0, target[pick] / target[fixed] - 1.0
            cells.append(HeldOutCell(held_out, budget, pick, best, excess, over_fixed, tied))
    return LeaveOneWorkloadOut(cells, fixed)


def _least_log_excess(
    workloads: Sequence[Sequence[Mapping[str, float]]], among: set[str] | None = None
) -> str:
    """The schedule of least ``mean_w mean_{cells of w} log(L_s / min L)``, every workload
    weighing the same, among the schedules present in every cell (and in ``among``); ties go to
    the first name in sorted order."""
    table = [cell for cells in workloads for cell in cells]
    names = set.intersection(*(set(cell) for cell in table))
    if among is not None:
        names &= among
    if not names:
        raise ValueError("no schedule is present in every cell")
    if not all(loss > 0 for cell in table for loss in cell.values()):
        raise ValueError("mean losses must be positive")

    def score(name: str) -> float:
        return float(
            np.mean([np.mean([math.log(c[name] / min(c.values())) for c in cells]) for cells in workloads])
        )

    return min(sorted(names), key=score)
