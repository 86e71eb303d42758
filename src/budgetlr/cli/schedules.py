"""``budgetlr list`` and ``budgetlr show``: the schedule families, and the LR curves of specs.

Library commands: they need no extra (``show --plot`` needs ``budgetlr[plot]``, and ``show --budget``,
which steps a :class:`~budgetlr.torch.BudgetScheduler`, ``budgetlr[torch]``).
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from budgetlr._extras import require
from budgetlr.cli.arguments import (
    UsageError,
    add_command,
    at_least,
    checked,
    output_file,
    plot_file,
    positive,
)
from budgetlr.schedules import FAMILIES, BoundSchedule, keys_of, parse, schedule
from budgetlr.schedules.budget import Budget, BudgetUnit
from budgetlr.schedules.shapes import OWN_SHAPES, SHAPES

TABLE_ROWS = 25
#: A plot draws at most this many points of a curve; a CSV holds at most this many steps.
PLOT_POINTS = 2000
MAX_CSV_STEPS = 1_000_000


def add_commands(commands: Any) -> None:
    add_command(
        commands,
        "list",
        list_families,
        help="list schedule families, their keys, defaults, papers and budgetlr's own extensions",
    )
    show = add_command(
        commands, "show", show_curves, help="print (and plot) the LR curve of one or more specs"
    )
    show.add_argument("specs", nargs="+", metavar="SPEC", help='e.g. "uba(phi=0.5, warmup=0.05)"')
    budget = show.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=checked(at_least(1)), help="the budget T in optimizer steps")
    budget.add_argument(
        "--budget",
        type=checked(Budget.parse),
        help='a budget in tokens, samples or time, e.g. "2e9 tokens", "50000 samples", "3h"',
    )
    show.add_argument(
        "--per-step",
        type=checked(positive),
        help="with --budget: the tokens or samples each step consumes, or the seconds a step takes",
    )
    show.add_argument("--peak", type=checked(positive), default=1.0, help="peak LR (default 1: multipliers)")
    show.add_argument(
        "--csv", type=checked(output_file), help="write the LR at every step 0..T to this CSV file"
    )
    show.add_argument(
        "--plot",
        type=checked(plot_file),
        help="draw all curves on one figure into this .png, .pdf or .svg file",
    )


def list_families(args: argparse.Namespace) -> None:
    print(format_families())


def format_families() -> str:
    lines = []
    for name, family in sorted(FAMILIES.items()):
        paper = f"  [arXiv {family.paper}]" if family.paper else ""
        keys = ", ".join(f"{k}={v!r}" if v is not None else k for k, v in keys_of(family).items())
        implied = "".join(
            f"; {key} defaults to {fraction} of total_steps"
            for key, fraction in family.default_fractions.items()
        )
        summary = " ".join((family.__doc__ or "").strip().split("\n\n")[0].split())
        lines.append(f"{name}{paper}\n    {summary}\n    keys: {keys}{implied}")
        lines += [f"    budgetlr's own ({key}): {what}" for key, what in family.extensions.items()]
    published = ", ".join(shape for shape in SHAPES if shape not in OWN_SHAPES)
    lines.append(
        f"cooldown shapes (wsd, power, BudgetScheduler.cooldown)\n    {published}  [arXiv 2405.18392]"
    )
    lines += [f"    budgetlr's own: {shape} = {what}" for shape, what in OWN_SHAPES.items()]
    return "\n".join([*lines, CONVENTIONS])


#: Where budgetlr differs from PyTorch, transformers and optax, and the setting that matches them.
CONVENTIONS = """
conventions
    warmup: step t < W runs at (t + 1) / (W + 1) of the peak (step 0 is not wasted at LR 0);
    transformers' and optax's warmups ramp t / W from 0. budgetlr's ramp is
    LinearLR(start_factor=1 / (W + 1), total_iters=W) in PyTorch and
    optax.linear_schedule(peak / (W + 1), peak, W) in optax; after the warmup the curves agree.
    floor: reached by interpolation, lr = peak * (floor + (1 - floor) * m); exponential and
    infinite default to floor=0.01, so exponential(gamma=0.99) is 0.01 + 0.99 * 0.99^t and
    exponential(gamma=0.99, floor=0) is ExponentialLR(gamma=0.99) / optax.exponential_decay(peak, 1, 0.99)."""


def show_curves(args: argparse.Namespace) -> None:
    budget = Budget(args.steps) if args.budget is None else args.budget
    if budget.in_steps:
        if args.per_step is not None:
            raise UsageError("--per-step goes with a --budget in tokens, samples or time")
        curves = [schedule(spec, int(budget.amount)) for spec in args.specs]
        table = CurveTable(
            [str(c) for c in curves], [closed_form(c, args.peak) for c in curves], int(budget.amount)
        )
        warmups = [c.spec.warmup_end(c.total_steps) for c in curves]
    else:
        per_step = check_per_step(args.per_step, budget)
        lrs = [preview(spec, budget, per_step, args.peak) for spec in args.specs]
        table = CurveTable(
            [str(parse(spec)) for spec in args.specs],
            [recorded(lr) for lr in lrs],
            min(len(lr) for lr in lrs) - 1,
            budget.unit,
            per_step,
        )
        warmups = (
            []
            if budget.unit is BudgetUnit.SECONDS
            else [round(parse(spec).warmup_end(int(budget.amount)) / per_step) for spec in args.specs]
        )
    if args.csv and table.total_steps + 1 > MAX_CSV_STEPS:
        raise UsageError(
            f"--csv writes every step: at most {MAX_CSV_STEPS - 1} --steps, got {table.total_steps}"
        )
    print(table.format(warmups))
    if args.csv:
        table.write_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        table.plot(args.plot, args.peak, str(budget))
        print(f"wrote {args.plot}")


#: ``budgetlr show --budget`` steps a scheduler through the whole run: at most this many steps.
MAX_PREVIEW_STEPS = 1_000_000


def check_per_step(per_step: float | None, budget: Budget) -> float:
    what = (
        "seconds a step takes" if budget.unit is BudgetUnit.SECONDS else f"{budget.unit} each step consumes"
    )
    if per_step is None:
        raise UsageError(f"a --budget in {budget.unit} needs --per-step: the {what}")
    if budget.amount / per_step > MAX_PREVIEW_STEPS:
        raise UsageError(
            f"--budget {budget} at --per-step {per_step:g} is {budget.amount / per_step:.3g} steps; "
            f"the preview steps through at most {MAX_PREVIEW_STEPS:,}"
        )
    return per_step


def preview(spec: str, budget: Budget, per_step: float, peak: float) -> np.ndarray:
    """The LR of every step of a steady run (``per_step`` consumed, or seconds, each step) under
    ``budget``, then the value after training: a :class:`~budgetlr.torch.BudgetScheduler` stepped
    through it, a simulated clock for a time budget."""
    torch = require("torch", "torch", "budgetlr show --budget")
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
    return np.array(lrs)


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
    unit: BudgetUnit = BudgetUnit.STEPS
    per_step: float = 1.0

    def spent(self, step: int) -> str:
        return f"{step * self.per_step:.6g}"

    def columns(self) -> list[str]:
        return ["step"] if self.unit is BudgetUnit.STEPS else ["step", self.unit]

    def format(self, warmups: list[int]) -> str:
        """The LRs at about ``TABLE_ROWS`` steps and at each warmup's end."""
        steps = table_steps(self.total_steps, warmups)
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
