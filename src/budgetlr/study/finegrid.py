"""The coarse-then-fine LR sweep: the coarse pass, then the refinement rounds of
:mod:`budgetlr.study.lr_grid` until every cell's grid settles (or :data:`MAX_ROUNDS`)."""

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
from budgetlr.study.lr_grid import next_lrs

#: Rounds after the coarse pass: each adds at most the LRs of :func:`next_lrs`, so a cell settles in a few.
MAX_ROUNDS = 8

CellKey = tuple[str, str, float]


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
