"""Statistics for the study's verdicts: paired and pooled log-ratios of losses with bootstrap
intervals, a family-wise correction, and a leave-one-workload-out test of a schedule
recommender (the peak LR's power law in the budget is :mod:`budgetlr.study.lr_law`).

numpy, with scipy's Student t quantile; deterministic given a ``numpy.random.Generator``.

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
from scipy.stats import t as student_t

#: The seed of every bootstrap behind the study's pages and answers, so that they regenerate
#: byte for byte.
BOOTSTRAP_SEED = 0

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
    check_level(level)
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
    return _weighted_bootstrap([log_ratios(losses_a, losses_b)], [1.0], rng, level, n_boot)


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
        ratios = [log_ratios(losses_a, losses_b) for losses_a, losses_b in by_budget.values()]
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


def log_ratios(losses_a: ArrayLike, losses_b: ArrayLike) -> np.ndarray:
    """``log(L_A / L_B)`` per seed, after checking the pairs: two positive, finite vectors of one
    length and 2 or more seeds."""
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
    check_level(level)
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
    return bootstrap_interval(estimate, replicate, level, nu)


def check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must lie in (0, 1), got {level}")


def bootstrap_interval(estimate: float, replicates: np.ndarray, level: float, df: float) -> Interval:
    """The expanded percentile interval of ``replicates`` (module docstring), widened where it
    falls short of ``estimate -/+ t_{(1+level)/2}(df) sd(replicates)``."""
    t = float(student_t.ppf(0.5 + level / 2.0, df))
    tail = 1.0 - NormalDist().cdf(t)
    low, high = np.quantile(replicates, [tail, 1.0 - tail])
    spread = t * float(replicates.std())
    return Interval(estimate, min(float(low), estimate - spread), max(float(high), estimate + spread), level)


@dataclass(frozen=True)
class HeldOutCell:
    """The recommender scored on one (workload, budget) it was not fitted on."""

    workload: str
    budget: float
    pick: str
    best: str
    #: the best single fixed schedule chosen on the other workloads, as the pick is
    fixed: str
    #: loss of the pick over the cell's best, minus 1
    excess: float
    #: loss of the pick over the fixed schedule's, minus 1 (negative: the pick is better)
    excess_over_fixed: float
    #: the pick is the cell's best or its paired interval against the best covers 0; None without per-seed data
    best_or_tied: bool | None


def geometric_excess(excesses: Sequence[float]) -> float:
    """The geometric-mean loss ratio of ratios given as ``ratio - 1``, minus 1."""
    return math.expm1(float(np.mean([math.log1p(excess) for excess in excesses])))


@dataclass(frozen=True)
class LeaveOneWorkloadOut:
    """Every held-out cell, and summaries over the cells and per held-out workload."""

    cells: list[HeldOutCell]

    @property
    def mean_excess(self) -> float:
        """Geometric-mean loss ratio of the pick over the cell's best, minus 1."""
        return geometric_excess([c.excess for c in self.cells])

    @property
    def mean_excess_over_fixed(self) -> float:
        """Geometric-mean loss ratio of the pick over the fixed schedule chosen without the
        held-out workload, minus 1."""
        return geometric_excess([c.excess_over_fixed for c in self.cells])

    def by_workload(self) -> dict[str, tuple[str, float, float]]:
        """Per held-out workload: the fixed schedule chosen without it, and the geometric-mean
        regret over its budgets of the pick against the cell's best and against that schedule."""
        held_out = dict.fromkeys(c.workload for c in self.cells)
        return {
            workload: (
                next(c.fixed for c in self.cells if c.workload == workload),
                geometric_excess([c.excess for c in self.cells if c.workload == workload]),
                geometric_excess([c.excess_over_fixed for c in self.cells if c.workload == workload]),
            )
            for workload in held_out
        }

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
    no other workload ran (with a schedule ``h`` ran) is not judged. The rival is the best single
    fixed schedule chosen the same way, without ``h``: the one schedule of least mean log-loss
    relative to each cell's best over the other workloads' cells (every workload weighing the
    same), among those ``h`` ran at every budget. A negative excess over it says that choosing by
    budget pays; choosing the rival with ``h`` included would favour it. With ``per_seed`` (the
    same cells' test losses, aligned by seed within each (workload, budget); a cell may be
    missing) a pick other than the best counts as tied when :func:`paired_log_ratio` against the
    best covers 0.

    >>> means = {
    ...     "a": {1.0: {"cosine": 1.0, "linear": 1.1}},
    ...     "b": {1.0: {"cosine": 2.0, "linear": 2.4}},
    ...     "c": {1.0: {"cosine": 3.9, "linear": 3.0}},
    ... }
    >>> result = leave_one_workload_out(means, rng=np.random.default_rng(5))
    >>> [(c.workload, c.pick, c.fixed, round(c.excess, 6), round(c.excess_over_fixed, 6)) for c in result.cells]
    [('a', 'linear', 'linear', 0.1, 0.0), ('b', 'linear', 'linear', 0.2, 0.0), ('c', 'cosine', 'cosine', 0.3, 0.0)]
    """
    workloads = sorted(means)
    if len(workloads) < 2:
        raise ValueError(f"leave-one-workload-out needs 2 or more workloads, got {len(workloads)}")
    cells = []
    for held_out in workloads:
        ran = set.intersection(*(set(cell) for cell in means[held_out].values()))
        fixed = _least_log_excess([list(means[w].values()) for w in workloads if w != held_out], among=ran)
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
            cells.append(HeldOutCell(held_out, budget, pick, best, fixed, excess, over_fixed, tied))
    return LeaveOneWorkloadOut(cells)


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
