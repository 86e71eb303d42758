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
the previous rounds planned, so an interrupted sweep resumes to the same grids, and the stored
trials alone tell which LRs refinement added (:func:`budgetlr.study.analysis.on_grid` replays it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

FINE = math.sqrt(2.0)
COARSE_STEP = 2.0
#: Coarse steps a cell's grid may grow past either end of the coarse grid: schedule-free SGD
#: tunes 16 to 32 times higher than SGD with momentum on the same grid.
MAX_EXTENSIONS = 6
#: Slack for the 4-digit rounding of a midpoint (at most 5e-4 relative).
TOLERANCE = 1.001


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
