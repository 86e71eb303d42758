"""The evidence: verdicts and recommendations read from a results database (docs/results.md).

Comparisons between two schedules pair their runs by seed (same initialisation and batch order)
and call a win or a loss only when the 95% t-interval of the paired differences excludes 0.
Across workloads, schedules are compared by their *excess*: the loss (or error rate, for
accuracies) over the best schedule's in the same workload and budget, minus one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from budgetlr.bench.runner import check_budget
from budgetlr.errors import InvalidInput
from budgetlr.study.analysis import Cell, best_and_ties

#: Schedule strings that are runs of an adaptive method, not schedules a user can pick.
K = TypeVar("K")
ONE_OFF_PREFIXES = ("pbt(", "array(")


def is_pickable(schedule: str) -> bool:
    return not schedule.startswith(ONE_OFF_PREFIXES)


def loss_like(cell: Cell, value: float) -> float:
    """Lower is better: the metric itself, or the error rate ``1 - accuracy``."""
    return 1.0 - value if cell.higher_is_better else value


def paired_outcome(a: Cell, b: Cell) -> str:
    """``"win"``, ``"tie"`` or ``"loss"`` of ``a`` against ``b`` (same workload and budget)."""
    if not a.test:
        return "loss" if b.test else "tie"
    if not b.test:
        return "win"
    diffs = np.array([loss_like(b, y) - loss_like(a, x) for x, y in zip(a.test, b.test, strict=False)])
    if diffs.size < 2:
        return "tie"
    from scipy.stats import t

    half = t.ppf(0.975, diffs.size - 1) * diffs.std(ddof=1) / math.sqrt(diffs.size)
    if diffs.mean() - half > 0:
        return "win"
    if diffs.mean() + half < 0:
        return "loss"
    return "tie"


def groups(cells: Sequence[Cell]) -> dict[tuple[str, float], dict[str, Cell]]:
    out: dict[tuple[str, float], dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        if is_pickable(cell.schedule):
            out[(cell.workload, cell.budget)][cell.schedule] = cell
    return dict(out)


def excess(group: Mapping[K, Cell]) -> dict[K, float]:
    """Each schedule's loss over the group's best, minus one (inf where every LR diverged)."""
    values = {s: loss_like(c, c.mean) for s, c in group.items() if c.test}
    best = min(values.values(), default=math.inf)
    return {s: (values[s] / best - 1.0 if s in values and best > 0 else math.inf) for s in group}


def head_to_head(
    cells: Sequence[Cell], challenger: str, baselines: Sequence[str]
) -> dict[str, dict[float, str]]:
    """``W/T/L`` of ``challenger`` against each baseline, per budget, over the workloads."""
    table: dict[str, dict[float, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for (_, budget), group in sorted(groups(cells).items()):
        if challenger not in group:
            continue
        for baseline in baselines:
            if baseline in group and baseline != challenger:
                outcome = paired_outcome(group[challenger], group[baseline])
                table[baseline][budget][("win", "tie", "loss").index(outcome)] += 1
    return {b: {budget: "/".join(map(str, wtl)) for budget, wtl in per.items()} for b, per in table.items()}


@dataclass
class Ranked:
    schedule: str
    mean_excess: float
    best_or_tied: int
    workloads: int


@dataclass
class Recommendation:
    requested: float
    budget: float
    workloads: list[str]
    ranking: list[Ranked]
    confidence: str

    @property
    def choice(self) -> Ranked:
        return self.ranking[0]

    def explain(self) -> str:
        top, runner = self.ranking[0], self.ranking[1] if len(self.ranking) > 1 else None
        where = ", ".join(self.workloads)
        moved = (
            "" if self.budget == self.requested else f" (the nearest budget measured to {self.requested:g})"
        )
        lines = [
            f"budget fraction {self.budget:g}{moved}, over {len(self.workloads)} workload(s): {where}",
            f"use {top.schedule}: {top.mean_excess:.1%} above the best schedule of each workload on average; "
            f"best or statistically tied with the best on {top.best_or_tied} of {top.workloads}",
        ]
        if runner is not None:
            lines.append(
                f"runner-up {runner.schedule}: {runner.mean_excess:.1%} above the best; "
                f"best or tied on {runner.best_or_tied} of {runner.workloads}"
            )
        lines.append(f"confidence: {self.confidence}")
        return "\n".join(lines)


def recommend(cells: Sequence[Cell], budget_fraction: float, workload: str | None = None) -> Recommendation:
    """The schedule to pick at ``budget_fraction`` of a full budget, from the stored study.

    Candidates are the schedules measured on every selected workload at that budget; they are
    ranked by mean excess over the per-workload best. Confidence is ``high`` when the choice is
    best or tied on every workload and beats the runner-up (paired by seed) on at least one,
    ``medium`` when it is best or tied on every workload, ``low`` otherwise.
    """
    check_budget(budget_fraction)
    by_group = groups(cells)
    if workload is not None:
        by_group = {k: g for k, g in by_group.items() if k[0] == workload}
        if not by_group:
            measured = sorted({k[0] for k in groups(cells)})
            raise InvalidInput(
                f"no stored results for workload {workload!r}; measured: {', '.join(measured)}"
            )
    if not by_group:
        raise InvalidInput("the results database holds no schedule comparisons yet")
    budgets = sorted({k[1] for k in by_group})
    budget = min(budgets, key=lambda b: abs(math.log(b / budget_fraction)))
    chosen = {k[0]: g for k, g in by_group.items() if k[1] == budget}
    common = set.intersection(*(set(g) for g in chosen.values()))
    if not common:
        raise InvalidInput(f"no schedule was measured on every workload at budget {budget:g}")
    unfinished = [f"{w} {s}" for w, g in sorted(chosen.items()) for s in sorted(common) if not g[s].test]
    if any(not any(g[s].test for s in common) for g in chosen.values()):
        raise InvalidInput(
            f"at budget {budget:g} a workload has no finished trial (every peak LR diverged) in: "
            f"{', '.join(unfinished)}; rerun these cells with smaller --lrs"
        )
    excesses = {w: excess({s: g[s] for s in common}) for w, g in chosen.items()}
    best_or_tied: dict[str, int] = defaultdict(int)
    for group in chosen.values():
        best, ties = best_and_ties([group[s] for s in common])
        for cell in [best, *ties]:
            if cell is not None:
                best_or_tied[cell.schedule] += 1
    ranking = sorted(
        (
            Ranked(s, float(np.mean([excesses[w][s] for w in chosen])), best_or_tied[s], len(chosen))
            for s in common
        ),
        key=lambda r: (r.mean_excess, -r.best_or_tied, r.schedule),
    )
    top = ranking[0]
    confidence = "low"
    if top.best_or_tied == top.workloads:
        confidence = "medium"
        if len(ranking) > 1:
            outcomes = [paired_outcome(g[top.schedule], g[ranking[1].schedule]) for g in chosen.values()]
            if "win" in outcomes and "loss" not in outcomes:
                confidence = "high"
    return Recommendation(budget_fraction, budget, sorted(chosen), ranking, confidence)
