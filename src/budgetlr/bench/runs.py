"""The results database's trials as the planner's runs (:class:`budgetlr.plan.Run`): one run per
setting (workload, schedule, budget, peak LR), its seeds averaged, their standard error kept as the
run's spread.

A stored curve holds at least 100 window means of the training loss (every step of a run shorter
than 100 steps): the mean training loss over the steps since the previous point, which becomes the
run's loss at the last of those steps. A curve with fewer than :data:`MIN_POINTS` points (stored
by budgetlr before trial semantics 3, which kept a point every ``eval_every`` steps) is too coarse
for a loss-curve law and is left out, in one line saying so. The LR of every step is the trial's schedule over its steps at its peak LR,
checked against the LRs the curve recorded.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from budgetlr.bench.store import Store, Trial
from budgetlr.errors import InvalidInput
from budgetlr.plan.runs import Run
from budgetlr.schedules import schedule

#: The fewest points a stored curve needs to be fitted.
MIN_POINTS = 20


@dataclass(frozen=True)
class Selection:
    """Which stored trials to read: ``None`` matches any value."""

    workload: str | None = None
    schedule: str | None = None
    budget: float | None = None
    lr: float | None = None
    seed: int | None = None

    def matches(self, trial: Trial) -> bool:
        return (
            trial.status == "ok"
            and self.workload in (None, trial.workload)
            and self.schedule in (None, trial.schedule)
            and (self.budget is None or math.isclose(self.budget, trial.budget, rel_tol=1e-9))
            and (self.lr is None or math.isclose(self.lr, trial.lr, rel_tol=1e-9))
            and self.seed in (None, trial.seed)
        )


def stored_runs(store: Store, selection: Selection = Selection()) -> tuple[list[Run], list[str]]:
    """The runs of the selected trials (one per setting, seeds averaged), and a line for each
    setting left out and why."""
    settings: dict[tuple[str, str, float, float], list[Trial]] = defaultdict(list)
    for trial in store.trials():
        if selection.matches(trial):
            settings[trial.workload, trial.schedule, trial.budget, trial.lr].append(trial)
    if not settings:
        raise InvalidInput("no finished trial matches the selection")
    runs, skipped = [], []
    for (workload, spec, budget, lr), trials in sorted(settings.items()):
        label = f"{workload}, {spec}, budget {budget:g}, lr {lr:g}"
        try:
            runs.append(setting_run(store, label, trials))
        except InvalidInput as error:
            skipped.append(f"{label}: {error}")
    return runs, skipped


def setting_run(store: Store, label: str, trials: list[Trial]) -> Run:
    first = trials[0]
    try:
        lrs = schedule(first.schedule, first.steps).lr(np.arange(first.steps), first.lr)
    except InvalidInput:
        raise InvalidInput("its LR is not a fixed schedule the planner can replay") from None
    curves = []
    for trial in trials:
        points = {
            p.step - 1: (p.train_loss, p.lr) for p in store.curve(trial.key) if p.train_loss is not None
        }
        if len(points) < MIN_POINTS:
            raise InvalidInput(
                f"trial {trial.key[:8]}'s curve holds {len(points)} points, "
                f"too coarse for a loss-curve law (it needs {MIN_POINTS}): record the run with "
                "budgetlr.recording instead"
            )
        if any(not math.isclose(lr, lrs[step], rel_tol=1e-5) for step, (_, lr) in points.items()):
            raise InvalidInput("its stored LRs are not its schedule's: its LR is not a fixed schedule")
        curves.append({step: loss for step, (loss, _) in points.items()})
    steps = sorted(set.intersection(*(set(curve) for curve in curves)))
    losses = np.array([[curve[step] for step in steps] for curve in curves])
    spread = losses.std(axis=0, ddof=1) / math.sqrt(len(curves)) if len(curves) > 1 else None
    return Run(file_name(label), lrs, steps, losses.mean(axis=0), spread)


def file_name(label: str) -> str:
    """A name that is a safe file name on every system."""
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", label).strip("_")
