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
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from budgetlr.bench.methods import ONE_OFF_RUNS, spec_name
from budgetlr.bench.runner import check_budget
from budgetlr.bench.store import Trial
from budgetlr.errors import InvalidInput
from budgetlr.study import lr_law, stats
from budgetlr.study.across import across_workloads
from budgetlr.study.analysis import Cell, best_and_ties
from budgetlr.study.stats import BOOTSTRAP_SEED

K = TypeVar("K")


def is_pickable(schedule: str) -> bool:
    """Whether ``schedule`` is one a user can pick, not a one-off run of an adaptive method."""
    return spec_name(schedule) not in ONE_OFF_RUNS


def loss_like(cell: Cell, value: float) -> float:
    """Lower is better: the metric itself, or the error rate ``1 - accuracy``."""
    return 1.0 - value if cell.higher_is_better else value


def paired_by_seed(a: Cell, b: Cell) -> dict[int, tuple[float, float]] | None:
    """``{seed: (a's test value, b's)}`` over the seeds both cells ran; None where a cell does not
    know its seeds (cells made by hand)."""
    if len(a.seeds) != len(a.test) or len(b.seeds) != len(b.test):
        return None
    theirs = dict(zip(b.seeds, b.test, strict=True))
    return {s: (x, theirs[s]) for s, x in zip(a.seeds, a.test, strict=True) if s in theirs}


def positive_pairs(pairs: Mapping[int, tuple[float, float]]) -> bool:
    """Two or more seeds, every loss positive: what a log-ratio comparison needs."""
    return len(pairs) >= 2 and all(x > 0 and y > 0 for x, y in pairs.values())


def paired_outcome(a: Cell, b: Cell) -> str:
    """``"win"``, ``"tie"`` or ``"loss"`` of ``a`` against ``b`` (same workload and budget)."""
    if not a.test:
        return "loss" if b.test else "tie"
    if not b.test:
        return "win"
    by_seed = paired_by_seed(a, b)
    pairs = list(zip(a.test, b.test, strict=False)) if by_seed is None else list(by_seed.values())
    diffs = np.array([loss_like(b, y) - loss_like(a, x) for x, y in pairs])
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
    #: the choice's held-out loss against the runner-up's, pooled over the workloads (a log-ratio
    #: with its 95% interval); None where the cells hold no losses or no runner-up
    against_runner_up: stats.Interval | None = None
    #: the same with the workloads as a sample (:mod:`budgetlr.study.across`); None as above or
    #: with one workload
    across_workloads: stats.Interval | None = None

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
            f"use {top.schedule}: {top.mean_excess:.1%} above the best schedule of each workload "
            "(geometric mean over the workloads); "
            f"best or statistically tied with the best on {top.best_or_tied} of {top.workloads}",
        ]
        if runner is not None:
            lines.append(
                f"runner-up {runner.schedule}: {runner.mean_excess:.1%} above the best; "
                f"best or tied on {runner.best_or_tied} of {runner.workloads}"
            )
        if self.against_runner_up is not None and runner is not None:
            pct = self.against_runner_up.percent()
            lines.append(
                f"held-out loss of {top.schedule} against {runner.schedule}, pooled over the workloads: "
                f"{pct.estimate:+.2f}%, 95% interval [{pct.low:+.2f}%, {pct.high:+.2f}%]"
            )
        if self.across_workloads is not None and runner is not None:
            pct = self.across_workloads.percent()
            lines.append(
                f"the same with the workloads as a sample (Student's t over the {len(self.workloads)} workloads' "
                f"means): 95% interval [{pct.low:+.2f}%, {pct.high:+.2f}%]"
            )
        lines.append(f"confidence: {self.confidence}")
        lines.append(
            "for your own model: this answer comes from these workloads; `budgetlr plan` on two short runs "
            "of yours (docs/plan.md) is the better tool when your model is unlike them, or when the "
            "confidence here is not high"
        )
        return "\n".join(lines)


def recommend(cells: Sequence[Cell], budget_fraction: float, workload: str | None = None) -> Recommendation:
    """The schedule to pick at ``budget_fraction`` of a full budget, from the stored study.

    Candidates are the schedules measured on every selected workload at that budget; they are
    ranked by their excess over the per-workload best, averaged over the workloads as a geometric
    mean of the loss ratios (every workload weighing the same). Where the cells hold held-out
    losses, confidence is ``high`` when the choice's loss, paired by seed and pooled over the
    workloads, is below the runner-up's with a 95% interval excluding 0, and, with two or more
    workloads, also with the workloads as a sample (Student's t over their mean log-ratios,
    :mod:`budgetlr.study.across`); ``medium`` when only the first holds; ``low`` otherwise. Without
    losses it is ``high`` when the choice is best or tied on every workload and beats the runner-up
    (paired by seed) on at least one, ``medium`` when it is best or tied on every workload, ``low``
    otherwise; ``low`` too where there is no runner-up or a cell holds one seed.
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
    # The geometric mean of the loss ratios over workloads: the rule the leave-one-workload-out
    # evaluation tests (budgetlr.study.stats.leave_one_workload_out).
    ranking = sorted(
        (
            Ranked(
                s,
                math.expm1(np.mean([math.log1p(excesses[w][s]) for w in chosen])),
                best_or_tied[s],
                len(chosen),
            )
            for s in common
        ),
        key=lambda r: (r.mean_excess, -r.best_or_tied, r.schedule),
    )
    top = ranking[0]
    runner_up = ranking[1].schedule if len(ranking) > 1 else None
    paired = None if runner_up is None else paired_cells(chosen, top.schedule, runner_up)
    pooled = (
        None if paired is None else stats.pooled_log_ratio(paired, rng=np.random.default_rng(BOOTSTRAP_SEED))
    )
    across = None if paired is None or len(paired) < 2 else across_workloads(paired).interval
    if pooled is not None:
        if pooled.high < 0 and (across is None or across.high < 0):
            confidence = "high: its held-out loss is lower than the runner-up's beyond seed noise"
            confidence += "" if across is None else " and across workloads"
        elif pooled.high < 0:
            confidence = (
                "medium: its held-out loss is lower than the runner-up's beyond seed noise on these "
                "workloads, but not across workloads (their spread covers 0)"
            )
        elif pooled.low > 0:  # ranked by the cells' means, the per-seed ratios can disagree
            confidence = "low: the runner-up's held-out loss is lower, paired by seed"
        else:
            confidence = "low: tied with the runner-up (the pooled interval covers 0)"
    elif runner_up is None:
        confidence = "low: no other schedule was measured at this budget"
    elif min(len(g[top.schedule].test) for g in chosen.values()) < 2:
        confidence = "low: one seed in a cell gives no interval"
    else:
        confidence = "low"
        if top.best_or_tied == top.workloads:
            confidence = "medium"
            if runner_up is not None:
                outcomes = [paired_outcome(g[top.schedule], g[runner_up]) for g in chosen.values()]
                if "win" in outcomes and "loss" not in outcomes:
                    confidence = "high"
    return Recommendation(budget_fraction, budget, sorted(chosen), ranking, confidence, pooled, across)


def paired_cells(
    chosen: Mapping[str, Mapping[str, Cell]], a: str, b: str
) -> dict[str, dict[float, tuple[list[float], list[float]]]] | None:
    """Schedule ``a``'s held-out test losses and ``b``'s, paired by seed in each workload's cell, as
    :func:`budgetlr.study.stats.pooled_log_ratio` takes them; None unless every workload's two
    cells hold losses of two or more shared, known seeds."""
    cells: dict[str, dict[float, tuple[list[float], list[float]]]] = {}
    for workload, group in chosen.items():
        first, second = group[a], group[b]
        pairs = paired_by_seed(first, second)
        if first.metric != "loss" or second.metric != "loss" or pairs is None or not positive_pairs(pairs):
            return None
        cells[workload] = {first.budget: ([x for x, _ in pairs.values()], [y for _, y in pairs.values()])}
    return cells


@dataclass(frozen=True)
class PeakLr:
    """A peak LR for a budget from the power law ``lr*(T) = a T^b`` fitted to a workload's sweep."""

    workload: str
    schedule: str
    budget: float
    lr: float
    law: lr_law.PowerLaw
    #: the exponent's 95% bootstrap interval over seeds; None with fewer than 2 seeds per budget
    exponent: stats.Interval | None
    budgets: list[float]
    #: the budgets whose tuned LR sat at an edge of their grid (bounded by it, not measured)
    edges: list[float] = field(default_factory=list)

    def explain(self) -> str:
        interval = (
            ""
            if self.exponent is None
            else f", 95% interval [{self.exponent.low:.2f}, {self.exponent.high:.2f}]"
        )
        return (
            f"peak LR for {self.schedule} on {self.workload} at budget {self.budget:g}: {self.lr:.3g} "
            f"(lr*(T) = {self.law.a:.3g} T^{self.law.b:.2f}{interval}, T the budget fraction; fitted to the "
            f"tuned LRs at budgets {', '.join(f'{t:g}' for t in self.budgets)})"
            + (
                f"; at budgets {', '.join(f'{t:g}' for t in self.edges)} the best LR was at the edge of the "
                "grid, so the law is bounded by the grid there: sweep wider LRs to pin it down"
                if self.edges
                else ""
            )
        )


def lr_sweep(trials: Sequence[Trial], workload: str, schedule: str) -> dict[float, dict[float, list[float]]]:
    """``sweep[budget][lr]``: the validation losses of ``schedule`` on ``workload`` by seed (NaN
    where a seed diverged), over the seeds every LR of that budget ran."""
    runs: dict[float, dict[float, dict[int, float]]] = defaultdict(lambda: defaultdict(dict))
    for t in trials:
        if t.workload == workload and t.schedule == schedule:
            ok = t.status == "ok" and t.val_loss is not None
            runs[t.budget][t.lr][t.seed] = t.val_loss if ok and t.val_loss is not None else math.nan
    sweep = {}
    for budget, by_lr in runs.items():
        seeds = sorted(set.intersection(*(set(v) for v in by_lr.values())))
        if seeds:
            sweep[budget] = {lr: [v[seed] for seed in seeds] for lr, v in by_lr.items()}
    return sweep


def edge_budgets(sweep: Mapping[float, Mapping[float, Sequence[float]]]) -> list[float]:
    """The budgets of ``sweep`` (as :func:`lr_sweep` gives it) whose best LR on the mean
    validation loss is the smallest or the largest of their grid: there the tuned LR is bounded by
    the grid, not measured."""
    edges = []
    for budget, by_lr in sorted(sweep.items()):
        lrs = sorted(by_lr)
        means = [np.inf if np.isnan(m := float(np.mean(by_lr[lr]))) else m for lr in lrs]
        if len(lrs) > 1 and int(np.argmin(means)) in (0, len(lrs) - 1):
            edges.append(budget)
    return edges


def peak_lr(trials: Sequence[Trial], workload: str, schedule: str, budget_fraction: float) -> PeakLr:
    """The peak LR for ``schedule`` on ``workload`` at ``budget_fraction``, from the power law of
    its tuned LR (validation loss) in the budget (:func:`budgetlr.study.lr_law.lr_power_law`)."""
    sweep = {
        t: by_lr
        for t, by_lr in lr_sweep(trials, workload, schedule).items()
        if any(not all(math.isnan(v) for v in losses) for losses in by_lr.values())
    }
    if len(sweep) < 2:
        raise InvalidInput(
            f"a peak LR needs validation losses of {schedule} on {workload} at 2 or more budgets; "
            f"the database holds {len(sweep)}"
        )
    exponent = None
    if min(len(next(iter(by_lr.values()))) for by_lr in sweep.values()) >= 2:
        law, exponent = lr_law.lr_power_law(sweep, rng=np.random.default_rng(BOOTSTRAP_SEED))
    else:
        tuned = [
            lr_law.tuned_lr(list(by_lr), [np.mean(v) for v in by_lr.values()]) for by_lr in sweep.values()
        ]
        law = lr_law.fit_power_law(list(sweep), tuned)
    return PeakLr(
        workload,
        schedule,
        budget_fraction,
        law.predict(budget_fraction),
        law,
        exponent,
        sorted(sweep),
        edge_budgets(sweep),
    )


def aligned(
    by_budget: dict[float, dict[int, tuple[float, float]]],
) -> dict[float, tuple[list[float], list[float]]]:
    """One workload's paired cells over the seeds all of them ran, in seed order, so that the
    pooled bootstrap resamples a seed's runs at every budget together (empty under 2 seeds)."""
    seeds = sorted(set.intersection(*(set(pairs) for pairs in by_budget.values())))
    if len(seeds) < 2:
        return {}
    return {
        budget: ([pairs[s][0] for s in seeds], [pairs[s][1] for s in seeds])
        for budget, pairs in by_budget.items()
    }
