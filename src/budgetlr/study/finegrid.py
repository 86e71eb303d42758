"""LR tuning that is fine where it matters and cheap elsewhere: a coarse grid, then rounds of
refinement around each cell's optimum, until every tuned LR's grid neighbours are at most a factor
:data:`FINE` (sqrt 2) away.

A cell is one (workload, schedule, budget); its LR is tuned on the validation loss, the mean over
the plan's seeds, an LR where any seed diverged counting as worst (:func:`analysis.cells`). After
each round, :func:`next_lrs` adds to a cell:

* past a grid edge that is its optimum, the next LR a coarse step (x2) beyond, at most
  :data:`MAX_EXTENSIONS` steps beyond the coarse grid (an optimum there is flagged);
* between the optimum and a neighbour more than :data:`FINE` away, their geometric midpoint,
  rounded to 4 significant digits.

A cell whose every LR diverged extends downwards. Each round depends only on the trials of the LRs
the previous rounds planned, so an interrupted sweep resumes to the same grids.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from budgetlr.bench.executors import LOCAL, Execution
from budgetlr.bench.runner import TrialConfig
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import SweepPlan, SweepSummary, run_configs
from budgetlr.study import analysis

FINE = math.sqrt(2.0)
COARSE_STEP = 2.0
#: Coarse steps a cell's grid may grow past either end of the coarse grid: schedule-free SGD
#: tunes 16 to 32 times higher than SGD with momentum on the same grid.
MAX_EXTENSIONS = 6
#: Rounds after the coarse pass: each adds at most the LRs above, so a cell settles in a few.
MAX_ROUNDS = 8
#: Slack for the 4-digit rounding of a midpoint (at most 5e-4 relative).
TOLERANCE = 1.001

CellKey = tuple[str, str, float]


def rounded(lr: float) -> float:
    return float(f"{lr:.4g}")


def next_lrs(
    val_by_lr: dict[float, float], coarse: Sequence[float], higher_is_better: bool = False
) -> list[float]:
    """The LRs one refinement round adds to a cell whose mean validation score per LR is
    ``val_by_lr`` (NaN where a seed diverged), its coarse grid ``coarse``."""
    grid = sorted(val_by_lr)
    finite = {lr: v for lr, v in val_by_lr.items() if not math.isnan(v)}
    low_limit = min(coarse) / COARSE_STEP**MAX_EXTENSIONS
    high_limit = max(coarse) * COARSE_STEP**MAX_EXTENSIONS
    if not finite:
        below = rounded(grid[0] / COARSE_STEP)
        return [below] if below >= low_limit / TOLERANCE else []
    best = (max if higher_is_better else min)(finite, key=finite.__getitem__)
    index = grid.index(best)
    added = []
    if index == 0 and best / COARSE_STEP >= low_limit / TOLERANCE:
        added.append(rounded(best / COARSE_STEP))
    if index == len(grid) - 1 and best * COARSE_STEP <= high_limit * TOLERANCE:
        added.append(rounded(best * COARSE_STEP))
    for neighbour in grid[index - 1 : index] + grid[index + 1 : index + 2]:
        ratio = max(best, neighbour) / min(best, neighbour)
        if ratio > FINE * TOLERANCE:
            added.append(rounded(math.sqrt(best * neighbour)))
    return sorted(set(added) - set(grid))


def flags(val_by_lr: dict[float, float], tuned: float | None) -> list[str]:
    """What is wrong with a cell's tuned LR: at an edge of its grid (the optimum may lie beyond),
    next to an LR where a seed diverged (the optimum sits at a cliff), neighbours further than
    :data:`FINE`."""
    if tuned is None:
        return ["every LR diverged"]
    grid = sorted(val_by_lr)
    index = grid.index(tuned)
    out = []
    if index == 0 or index == len(grid) - 1:
        out.append("at a grid edge")
    neighbours = grid[max(index - 1, 0) : index] + grid[index + 1 : index + 2]
    if any(math.isnan(val_by_lr[lr]) for lr in neighbours):
        out.append("next to a divergence")
    if any(max(tuned, lr) / min(tuned, lr) > FINE * TOLERANCE for lr in neighbours):
        out.append("neighbours over sqrt(2) apart")
    return out


@dataclass
class FineSweep:
    """What :func:`run_fine_sweep` did: the summed sweep summaries, the rounds run and every
    cell's final grid."""

    summary: SweepSummary
    rounds: int
    grids: dict[CellKey, list[float]]


def run_fine_sweep(plans: Sequence[SweepPlan], out: Path, execution: Execution = LOCAL) -> FineSweep:
    """Run ``plans`` on their LR grids (the coarse pass), then refinement rounds until no cell
    asks for another LR (or :data:`MAX_ROUNDS`)."""
    seeds: dict[CellKey, tuple[int, ...]] = {}
    coarse: dict[CellKey, tuple[float, ...]] = {}
    for plan in plans:
        for w in plan.workloads:
            for s in plan.schedules:
                for b in plan.budgets:
                    seeds[(w, s, b)] = tuple(dict.fromkeys(seeds.get((w, s, b), ()) + plan.seeds))
                    coarse[(w, s, b)] = tuple(sorted(set(coarse.get((w, s, b), ()) + plan.lrs[w])))
    grids = {cell: list(lrs) for cell, lrs in coarse.items()}
    total = SweepSummary(0, 0, 0, 0)
    # The rounds share one pool of workers, started once.
    with execution.keeping_workers(len(configs_of(grids, seeds))) as kept:
        for round_ in range(MAX_ROUNDS + 1):
            summary = run_configs(configs_of(grids, seeds), out, kept)
            total.ran += summary.ran
            total.diverged += summary.diverged
            total.not_reused.update(summary.not_reused)
            total.ran_elsewhere += summary.ran_elsewhere
            new = refinements(out, grids, seeds, coarse)
            if not new or round_ == MAX_ROUNDS:
                break
            for cell, lrs in new.items():
                grids[cell] = sorted(grids[cell] + lrs)
    total.planned = summary.planned
    total.already_stored = total.planned - total.ran - total.ran_elsewhere
    return FineSweep(total, round_, grids)


def configs_of(grids: dict[CellKey, list[float]], seeds: dict[CellKey, tuple[int, ...]]) -> list[TrialConfig]:
    """Every trial of the grids, longest budgets first as a sweep orders them."""
    return [
        TrialConfig(w, s, b, lr, seed)
        for (w, s, b), lrs in sorted(grids.items(), key=lambda item: -item[0][2])
        for lr in lrs
        for seed in seeds[(w, s, b)]
    ]


def refinements(
    out: Path,
    grids: dict[CellKey, list[float]],
    seeds: dict[CellKey, tuple[int, ...]],
    coarse: dict[CellKey, tuple[float, ...]],
) -> dict[CellKey, list[float]]:
    """The LRs the next round adds, per cell, from the stored trials of the grids alone."""
    wanted = {config.key() for config in configs_of(grids, seeds)}
    with Store.existing(out) as store:
        trials = [t for t in store.trials() if t.key in wanted]
    by_cell = {(c.workload, c.schedule, c.budget): c for c in analysis.cells(trials)}
    new = {}
    for cell, grid in grids.items():
        found = by_cell.get(cell)
        if found is None:
            continue
        # An LR whose trials are all missing (never stored) cannot be judged: it counts as diverged.
        val_by_lr = {lr: found.val_by_lr.get(lr, math.nan) for lr in grid}
        lrs = next_lrs(val_by_lr, coarse[cell], found.higher_is_better)
        if lrs:
            new[cell] = lrs
    return new
