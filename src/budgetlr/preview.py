"""LR curves to look at: a table, a CSV or a plot of schedules over a budget (``budgetlr show``).

A budget in steps shows each schedule's closed form; one in tokens, samples or time steps a
:class:`~budgetlr.torch.BudgetScheduler` through a steady run (``per_step`` consumed, or seconds
taken, each step), as training would.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from budgetlr._extras import require
from budgetlr.errors import InvalidInput
from budgetlr.schedules import BoundSchedule, parse, schedule
from budgetlr.schedules.base import FloatArray, steps_from_fraction
from budgetlr.schedules.budget import Budget, BudgetUnit

TABLE_ROWS = 25
#: A plot draws at most this many points of a curve.
PLOT_POINTS = 2000


def curve_table(specs: Sequence[str], budget: Budget, per_step: float | None, peak: float) -> CurveTable:
    """The curves of ``specs`` under ``budget``, at peak LR ``peak``; ``per_step`` goes with a
    budget not in steps."""
    if budget.in_steps:
        curves = [schedule(spec, int(budget.amount)) for spec in specs]
        warmups = [c.spec.warmup_end(c.total_steps) for c in curves]
        return CurveTable(
            [str(c) for c in curves], [closed_form(c, peak) for c in curves], int(budget.amount), warmups
        )
    if per_step is None:
        raise InvalidInput(f"a budget in {budget.unit} needs what a step consumes (per_step)")
    lrs = [stepped_lrs(spec, budget, per_step, peak) for spec in specs]
    steps = min(len(lr) for lr in lrs) - 1
    warmups = (
        []
        if budget.unit is BudgetUnit.SECONDS
        else [
            steps_from_fraction(parse(spec).warmup_end(int(budget.amount)) / budget.amount, steps)
            for spec in specs
        ]
    )
    return CurveTable(
        [str(parse(spec)) for spec in specs],
        [recorded(lr) for lr in lrs],
        steps,
        warmups,
        budget.unit,
        per_step,
    )


#: A preview of a budget not in steps steps a scheduler through the whole run: at most this many steps.
MAX_PREVIEW_STEPS = 1_000_000


def stepped_lrs(spec: str, budget: Budget, per_step: float, peak: float) -> FloatArray:
    """The LR of every step of a steady run (``per_step`` consumed, or seconds, each step) under
    ``budget``, then the value after training: a :class:`~budgetlr.torch.BudgetScheduler` stepped
    through it, a simulated clock for a time budget."""
    torch = require("torch", "torch", "a preview of a budget in tokens, samples or time")
    from budgetlr.torch import BudgetScheduler

    elapsed = [0.0]
    timed = budget.unit is BudgetUnit.SECONDS
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    if timed:
        scheduler = BudgetScheduler(optimizer, spec, budget=budget, clock=lambda: elapsed[0])
    else:
        scheduler = BudgetScheduler(optimizer, spec, budget=budget, per_step=per_step)
    lrs = [scheduler.get_last_lr()[0]]
    while not scheduler.finished:
        elapsed[0] += per_step
        optimizer.step()
        scheduler.report(**({} if timed else {budget.unit: per_step}))
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return np.array(lrs, dtype=np.float64)


def table_steps(total_steps: int, warmups: list[int]) -> list[int]:
    spaced = np.linspace(0, total_steps, TABLE_ROWS).round().astype(int).tolist()
    return sorted({*spaced, *warmups, total_steps - 1, total_steps} - {-1})


@dataclass(frozen=True)
class CurveTable:
    """LR curves over steps ``0..T`` (the last value is the one after training), each a function
    of an array of steps, so a table or a plot computes only the steps it shows; in a budget not
    in steps, each step also shows the ``unit`` spent before it (``per_step`` a step)."""

    names: list[str]
    curves: list[Callable[[np.ndarray], np.ndarray]]
    total_steps: int
    #: the step each curve's warmup ends at, a row of the table
    warmups: list[int]
    unit: BudgetUnit = BudgetUnit.STEPS
    per_step: float = 1.0

    def spent(self, step: int) -> str:
        return f"{step * self.per_step:.6g}"

    def columns(self) -> list[str]:
        return ["step"] if self.unit is BudgetUnit.STEPS else ["step", self.unit]

    def format(self) -> str:
        """The LRs at about ``TABLE_ROWS`` steps and at each warmup's end."""
        steps = table_steps(self.total_steps, self.warmups)
        lrs = [curve(np.array(steps, dtype=np.float64)) for curve in self.curves]
        widths = [max(len(n), 12) for n in self.names]
        first = [c.rjust(8) if c == "step" else c.rjust(12) for c in self.columns()]
        rows = ["  ".join([*first, *(n.rjust(w) for n, w in zip(self.names, widths, strict=True))])]
        for row, t in enumerate(steps):
            cells = (f"{lr[row]:.6g}".rjust(w) for lr, w in zip(lrs, widths, strict=True))
            spent = [] if self.unit is BudgetUnit.STEPS else [self.spent(t).rjust(12)]
            rows.append("  ".join([str(t).rjust(8), *spent, *cells]))
        return "\n".join(rows)

    def write_csv(self, path: Path) -> None:
        lrs = [curve(np.arange(self.total_steps + 1, dtype=np.float64)) for curve in self.curves]
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*self.columns(), *self.names])
            for t, row in enumerate(zip(*lrs, strict=True)):
                spent = [] if self.unit is BudgetUnit.STEPS else [self.spent(t)]
                writer.writerow([t, *spent, *(repr(float(v)) for v in row)])

    def plot(self, path: Path, peak: float, budget: str) -> None:
        """All curves on one figure, each sampled at no more than ``PLOT_POINTS`` steps."""
        from budgetlr.plotting import pyplot, save

        steps = np.unique(np.linspace(0, self.total_steps, min(self.total_steps + 1, PLOT_POINTS)).round())
        figure, axes = pyplot().subplots(figsize=(8, 4.5), layout="constrained")
        for name, curve in zip(self.names, self.curves, strict=True):
            axes.plot(steps * self.per_step, curve(steps), label=name, linewidth=1.6)
        axes.set_xlabel(
            "optimizer step" if self.unit is BudgetUnit.STEPS else f"{self.unit} ({self.per_step:g} a step)"
        )
        axes.set_ylabel("learning rate" if peak != 1.0 else "multiplier of the peak LR")
        axes.set_title(f"budgetlr schedules, budget {budget}")
        axes.grid(alpha=0.3)
        axes.legend()
        save(figure, path, dpi=120)


def closed_form(curve: BoundSchedule, peak: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda steps: np.asarray(curve.lr(steps, peak), dtype=np.float64)


def recorded(lrs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda steps: lrs[steps.astype(np.int64)]
