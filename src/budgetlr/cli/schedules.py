"""``budgetlr list`` and ``budgetlr show``: the schedule families, and the LR curves of specs.

Library commands: they need no extra (``show --plot`` needs ``budgetlr[plot]``, and ``show --budget``,
which steps a :class:`~budgetlr.torch.BudgetScheduler`, ``budgetlr[torch]``).
"""

from __future__ import annotations

import argparse
from typing import Any

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
from budgetlr.preview import MAX_PREVIEW_STEPS, curve_table
from budgetlr.schedules import FAMILIES, keys_of
from budgetlr.schedules.budget import Budget, BudgetUnit
from budgetlr.schedules.shapes import OWN_SHAPES, SHAPES

#: A CSV holds at most this many steps.
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
    if budget.in_steps and args.per_step is not None:
        raise UsageError("--per-step goes with a --budget in tokens, samples or time")
    per_step = None if budget.in_steps else check_per_step(args.per_step, budget)
    if per_step is not None:
        require("torch", "torch", "budgetlr show --budget")
    table = curve_table(args.specs, budget, per_step, args.peak)
    if args.csv and table.total_steps + 1 > MAX_CSV_STEPS:
        raise UsageError(
            f"--csv writes every step: at most {MAX_CSV_STEPS - 1} --steps, got {table.total_steps}"
        )
    print(table.format())
    if args.csv:
        table.write_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        table.plot(args.plot, args.peak, str(budget))
        print(f"wrote {args.plot}")


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
