"""Verdicts that generalise: the workloads as a sample (random effects), and the worst workload.

:func:`budgetlr.study.stats.pooled_log_ratio` treats the workloads as fixed: its interval holds
seed noise only, and answers "on these workloads, is A's loss lower than B's?". Here each
workload contributes one number, its mean log-ratio ``m_w`` over its budgets and seeds, and the
interval is Student's t over those ``W`` numbers:

    mean(m) -/+ t_{(1+level)/2}(W - 1) sd(m) / sqrt(W)

which answers "on a new workload like these, is A's loss lower?". Between-workload variation
enters through ``sd(m)``; seed noise enters too, since each ``m_w`` carries its own. With 4 to 7
workloads the t quantile is wide (12.7 at W = 2, 3.18 at W = 4, 2.45 at W = 7, for 95%), as it
should be. The worst workload's ``m_w`` says how bad A can be on one of them.

>>> cells = {"a": {0.1: ([0.9, 0.9], [1.0, 1.0])}, "b": {0.1: ([0.8, 0.8], [1.0, 1.0])},
...          "c": {0.1: ([1.0, 1.0], [1.0, 1.0])}}
>>> effect = across_workloads(cells)
>>> round(effect.interval.percent().estimate, 2), effect.worst, round(100 * effect.worst_effect, 1)
(-10.37, 'c', 0.0)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import t as student_t

from budgetlr.study.stats import Interval, check_level, log_ratios


@dataclass(frozen=True)
class AcrossWorkloads:
    """A against B with the workloads as a sample: the t-interval over per-workload mean
    log-ratios, and the workload where A fares worst with its mean log-ratio there."""

    interval: Interval
    by_workload: dict[str, float]

    @property
    def worst(self) -> str:
        return max(self.by_workload, key=lambda workload: self.by_workload[workload])

    @property
    def worst_effect(self) -> float:
        """The worst workload's loss change as a fraction, ``exp(m_w) - 1``."""
        return math.expm1(self.by_workload[self.worst])


def workload_means(cells: Mapping[str, Mapping[float, tuple[ArrayLike, ArrayLike]]]) -> dict[str, float]:
    """Each workload's mean log-ratio ``log(L_A / L_B)``: over seeds within a budget, then over its
    budgets, so that each budget weighs the same (as in the pooled verdict)."""
    means = {}
    for workload, by_budget in cells.items():
        per_budget = [
            float(log_ratios(losses_a, losses_b).mean()) for losses_a, losses_b in by_budget.values()
        ]
        if not per_budget:
            raise ValueError(f"workload {workload!r} has no cells")
        means[workload] = float(np.mean(per_budget))
    return means


def across_workloads(
    cells: Mapping[str, Mapping[float, tuple[ArrayLike, ArrayLike]]], *, level: float = 0.95
) -> AcrossWorkloads:
    """``cells[workload][budget] = (losses_A, losses_B)``, as for the pooled verdict; at least two
    workloads."""
    check_level(level)
    means = workload_means(cells)
    if len(means) < 2:
        raise ValueError(f"a verdict across workloads needs at least 2 workloads, got {len(means)}")
    values = np.array(list(means.values()))
    estimate = float(values.mean())
    half = (
        float(student_t.ppf(0.5 + level / 2.0, values.size - 1))
        * float(values.std(ddof=1))
        / math.sqrt(values.size)
    )
    return AcrossWorkloads(Interval(estimate, estimate - half, estimate + half, level), means)
