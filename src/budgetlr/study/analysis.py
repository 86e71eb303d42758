"""Statistics of stored trials (docs/benchmark.md, Methodology): the peak LR tuned on validation for every
(workload, schedule, budget), test scores at that LR over seeds with 95% intervals, wins and
ties, time-to-target and AlgoPerf-style performance profiles (arXiv 2306.07179).

A cell's score is the held-out loss where its trials recorded one (trial semantics 2 on), and its
task metric otherwise (older trials, workloads that define no loss); the task metric at the
tuned LR is kept as a secondary measure."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

import numpy as np

from budgetlr.bench.store import Trial
from budgetlr.errors import InvalidInput
from budgetlr.study.lr_grid import next_lrs

R_MAX = 4.0


#: (workload, schedule, peak LR) of a suite's grids, as :meth:`budgetlr.bench.suites.Suite.planned` gives them.
Planned = AbstractSet[tuple[str, str, float]]


def on_grid(trials: Sequence[Trial], planned: Planned = frozenset()) -> tuple[list[Trial], list[Trial]]:
    """``trials`` split into those of their sweep's LR grid and the others: the runs of
    ``budgetlr lr-transfer``, each at an LR that its (workload, schedule) ran at the largest of
    its several budgets and at no other. A sweep runs its grid at every budget, so a grid LR that
    is missing at some budget (an interrupted sweep) still counts, and so does every LR of
    ``planned`` (a suite's :meth:`~budgetlr.bench.suites.Suite.planned`): a sweep stopped after
    its largest budget (it runs that first) keeps its new LRs on the grid. So does every LR that
    refinement (:func:`~budgetlr.study.lr_grid.next_lrs`, replayed on the stored trials) added to
    the largest budget's cell, replayed from its coarse grid: the LRs of ``planned``, or without
    them those run at every budget (a guess that an LR refined at every budget can mislead)."""
    budgets: dict[tuple[str, str], set[float]] = defaultdict(set)
    budgets_of_lr: dict[tuple[str, str, float], set[float]] = defaultdict(set)
    for t in trials:
        budgets[(t.workload, t.schedule)].add(t.budget)
        budgets_of_lr[(t.workload, t.schedule, t.lr)].add(t.budget)
    lone: dict[tuple[str, str], set[float]] = defaultdict(set)
    for (workload, schedule, lr), at in budgets_of_lr.items():
        every = budgets[(workload, schedule)]
        if len(every) > 1 and at == {max(every)} and (workload, schedule, lr) not in planned:
            lone[(workload, schedule)].add(lr)
    for pair, lrs in lone.items():
        largest = [t for t in trials if (t.workload, t.schedule, t.budget) == (*pair, max(budgets[pair]))]
        coarse = {lr for w, s, lr in planned if (w, s) == pair} or {
            lr for (w, s, lr), at in budgets_of_lr.items() if (w, s) == pair and at == budgets[pair]
        }
        lrs -= refined_lrs(largest, coarse)

    def inside(t: Trial) -> bool:
        return t.lr not in lone.get((t.workload, t.schedule), ())

    return [t for t in trials if inside(t)], [t for t in trials if not inside(t)]


def refined_lrs(cell_trials: Sequence[Trial], coarse: AbstractSet[float]) -> set[float]:
    """The LRs that refinement added to the cell of ``cell_trials`` from its coarse grid
    ``coarse``, replayed round by round on the cell's trials."""
    stored = {t.lr for t in cell_trials}
    grid = coarse & stored
    while grid:
        (cell,) = cells([t for t in cell_trials if t.lr in grid])
        added = set(next_lrs(cell.val_by_lr, sorted(coarse), cell.higher_is_better)) & stored
        if not added:
            return set(grid - coarse)
        grid |= added
    return set()


@dataclass
class Cell:
    """One (workload, schedule, budget) at its tuned peak LR. ``metric`` names what ``test`` and
    ``val_by_lr`` hold: ``"loss"`` (held-out loss, lower is better) or the task metric."""

    workload: str
    schedule: str
    budget: float
    steps: int
    metric: str
    higher_is_better: bool
    tuned_lr: float | None
    #: mean validation score per LR over seeds; NaN where any seed diverged
    val_by_lr: dict[float, float]
    test: list[float] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    #: the task metric (e.g. accuracy) and its test values at the tuned LR, by seed
    task_metric: str = ""
    task: list[float] = field(default_factory=list)
    #: the seeds of ``test``, ``task`` and ``keys``, in order
    seeds: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float:
        return float(np.mean(self.test)) if self.test else math.nan

    @property
    def sd(self) -> float:
        return float(np.std(self.test, ddof=1)) if len(self.test) > 1 else math.nan

    @property
    def half_width(self) -> float:
        """Half-width of the 95% t-interval of the mean; infinite with fewer than two seeds."""
        if len(self.test) < 2:
            return math.inf
        from scipy.stats import t

        return float(t.ppf(0.975, len(self.test) - 1) * self.sd / math.sqrt(len(self.test)))

    def better(self, a: float, b: float) -> bool:
        return a > b if self.higher_is_better else a < b


def cells(trials: Sequence[Trial]) -> list[Cell]:
    """Every (workload, schedule, budget) with its LR chosen on validation: the LR whose mean final
    validation loss (or metric, where no trial of the cell recorded a loss) over seeds is best, an
    LR where any seed diverged counting as worst."""
    groups: dict[tuple[str, str, float], list[Trial]] = defaultdict(list)
    for trial in trials:
        groups[(trial.workload, trial.schedule, trial.budget)].append(trial)
    # A diverged trial stores the steps it ran; a finished one those of its budget.
    planned = {(t.workload, t.budget): t.steps for t in trials if t.status == "ok"}
    out = []
    for (workload, schedule, budget), members in groups.items():
        by_loss = any(t.val_loss is not None for t in members)

        by_lr: dict[float, list[Trial]] = defaultdict(list)
        for trial in members:
            by_lr[trial.lr].append(trial)
        val_by_lr = {
            lr: math.nan
            if any(t.status != "ok" or score(t, by_loss, "val") is None for t in runs)
            else float(np.mean([score(t, by_loss, "val") for t in runs]))
            for lr, runs in sorted(by_lr.items())
        }
        first = members[0]
        higher_is_better = first.higher_is_better and not by_loss
        cell = Cell(
            workload,
            schedule,
            budget,
            planned.get((workload, budget)) or planned_steps(workload, budget, members),
            "loss" if by_loss else first.metric,
            higher_is_better,
            None,
            val_by_lr,
            task_metric=first.metric,
        )
        finite = {lr: v for lr, v in val_by_lr.items() if not math.isnan(v)}
        if finite:
            cell.tuned_lr = (max if higher_is_better else min)(finite, key=finite.__getitem__)
            chosen = sorted(by_lr[cell.tuned_lr], key=lambda t: t.seed)
            cell.test = [nan_if_none(score(t, by_loss, "test")) for t in chosen]
            cell.task = [nan_if_none(t.test_metric) for t in chosen]
            cell.keys = [t.key for t in chosen]
            cell.seeds = [t.seed for t in chosen]
        out.append(cell)
    return sorted(out, key=lambda c: (c.workload, c.budget, c.schedule))


def score(trial: Trial, by_loss: bool, split: str) -> float | None:
    """A trial's held-out loss (``by_loss``) or task metric on ``split`` (``"val"`` or ``"test"``)."""
    if split == "val":
        return trial.val_loss if by_loss else trial.val_metric
    return trial.test_loss if by_loss else trial.test_metric


def nan_if_none(value: float | None) -> float:
    return math.nan if value is None else value


def planned_steps(workload: str, budget: float, members: Sequence[Trial]) -> int:
    """The steps of ``budget`` on ``workload`` when none of its trials finished; the most any of
    them ran if the workload cannot be loaded here."""
    from budgetlr.bench.runner import budget_steps
    from budgetlr.bench.workloads import resolve_workload

    try:
        return budget_steps(resolve_workload(workload).full_budget, budget)
    except InvalidInput:
        return max(t.steps for t in members)


def best_and_ties(group: Sequence[Cell]) -> tuple[Cell | None, list[Cell]]:
    """The cell with the best mean test metric, and those whose 95% intervals overlap its own."""
    scored = [c for c in group if c.test]
    if not scored:
        return None, []
    best = scored[0]
    for cell in scored[1:]:
        if cell.better(cell.mean, best.mean):
            best = cell
    ties = [c for c in scored if c is not best and abs(c.mean - best.mean) <= c.half_width + best.half_width]
    return best, ties


def wins_ties_losses(all_cells: Sequence[Cell]) -> dict[str, tuple[int, int, int]]:
    """Per schedule, over every (workload, budget): wins, ties (interval overlaps the winner's)
    and losses (including cells where every LR diverged)."""
    groups: dict[tuple[str, float], list[Cell]] = defaultdict(list)
    for cell in all_cells:
        groups[(cell.workload, cell.budget)].append(cell)
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for group in groups.values():
        best, ties = best_and_ties(group)
        for cell in group:
            slot = 0 if cell is best else 1 if cell in ties else 2
            counts[cell.schedule][slot] += 1
    return {schedule: (w, t, lo) for schedule, (w, t, lo) in sorted(counts.items())}


def steps_to_target(all_cells: Sequence[Cell]) -> dict[str, dict[str, int | None]]:
    """Per workload and schedule: the smallest budget (in steps) whose tuned run reaches the
    workload's target on validation, or None. The target is the median, over schedules, of the
    tuned mean validation metric at the workload's largest budget."""
    out: dict[str, dict[str, int | None]] = {}
    for workload in sorted({c.workload for c in all_cells}):
        mine = [c for c in all_cells if c.workload == workload]
        largest = max(c.budget for c in mine)
        finals = [tuned_val(c) for c in mine if c.budget == largest and c.tuned_lr is not None]
        if not finals:
            continue
        target = float(np.median(finals))
        out[workload] = {}
        for schedule in sorted({c.schedule for c in mine}):
            reached = [
                c.steps
                for c in mine
                if c.schedule == schedule and c.tuned_lr is not None and not c.better(target, tuned_val(c))
            ]
            out[workload][schedule] = min(reached) if reached else None
    return out


def tuned_val(cell: Cell) -> float:
    assert cell.tuned_lr is not None
    return cell.val_by_lr[cell.tuned_lr]


def performance_ratios(times: dict[str, dict[str, int | None]]) -> dict[str, list[float]]:
    """Per schedule, ``r = t / t_best`` on each workload (infinite where it missed the target)."""
    ratios: dict[str, list[float]] = defaultdict(list)
    for per_schedule in times.values():
        reached = [t for t in per_schedule.values() if t is not None]
        if not reached:
            continue
        fastest = min(reached)
        for schedule, t in per_schedule.items():
            ratios[schedule].append(math.inf if t is None else t / fastest)
    return dict(ratios)


def profile_score(ratios: Sequence[float], r_max: float = R_MAX) -> float:
    """``B = (1/n) sum max(0, r_max - r) / (r_max - 1)``; misses (``r = inf``) count 0."""
    return float(np.mean([max(0.0, r_max - r) / (r_max - 1.0) for r in ratios]))


def profile_curve(ratios: Sequence[float], taus: np.ndarray) -> np.ndarray:
    """``rho(tau)``: the share of workloads with ``r <= tau``."""
    r = np.asarray(ratios, dtype=np.float64)
    return (r[None, :] <= np.asarray(taus)[:, None]).mean(axis=1)
