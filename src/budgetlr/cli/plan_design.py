"""``budgetlr plan design`` and ``budgetlr plan lr``: the schedule for a budget, and its peak LR.

budgetlr plan design fit.json --steps 24000 --peak 3e-4 --warmup-steps 2160 --plot candidates.png
budgetlr plan lr lr_0.1.csv lr_0.3.csv lr_1.csv --schedule cosine --steps 4000 --plot lr.png
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from budgetlr._extras import Extra
from budgetlr.cli.arguments import add_command, add_quiet, at_least, checked, existing, plot_file, positive
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, save

FAMILY_NAMES = ("wsd", "linear", "polynomial", "cosine", "uba", "rex", "power")


def distinct(runs: list) -> list:
    """``runs``, refused in one line if two share a name (a fit and its output tell runs by name)."""
    if len({run.name for run in runs}) < len(runs):
        raise InvalidInput("two runs share a name: give each run's CSV its own file name")
    return runs


def print_answer(
    args: argparse.Namespace,
    data: dict[str, Any],
    text: str,
    extrapolation: Sequence[str],
    plot: Callable[[Path], None],
) -> None:
    """``text`` (its extrapolations written in it) or, with ``--json``, ``data`` with each
    extrapolation on stderr; then the plot, where ``--plot`` asks for one."""
    print(json.dumps(data) if args.json else text)
    if args.json:
        for reason in extrapolation:
            print(f"budgetlr: extrapolation: {reason}", file=sys.stderr)
    if args.plot:
        plot(args.plot)
        if not args.json:
            print(f"wrote {args.plot}")


def add_runs(command: argparse.ArgumentParser, nargs: str) -> None:
    """The runs a plan command reads: CSV files as ``budgetlr.recording`` writes them."""
    command.add_argument(
        "runs",
        nargs=nargs,
        type=checked(existing),
        metavar="RUN",
        help="a CSV of step,lr,loss (optional spread)",
    )


def add_budget(parser: Any) -> None:
    """``--steps T`` or ``--budget B`` (steps, tokens, samples or time) with the rate that translates it."""
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=checked(at_least(1)), help="the budget T in optimizer steps")
    budget.add_argument(
        "--budget",
        type=checked(budget_value),
        help="the budget in steps, tokens, samples or time: '2e9 tokens', '3h'",
    )
    for unit in ("tokens", "samples", "seconds"):
        parser.add_argument(
            f"--{unit}-per-step",
            type=checked(positive),
            help=f"{unit} one optimizer step consumes, to translate a --budget in {unit} into steps",
        )


def budget_value(text: str) -> Any:
    from budgetlr.schedules.budget import Budget

    return Budget.parse(int(text) if text.strip().isdigit() else text)


def steps_of(args: argparse.Namespace) -> int:
    from budgetlr.plan.designing import budget_steps

    if args.steps is not None:
        return int(args.steps)
    return budget_steps(
        args.budget,
        tokens_per_step=args.tokens_per_step,
        samples_per_step=args.samples_per_step,
        seconds_per_step=args.seconds_per_step,
    )


def add_design(actions: Any, extras: tuple[Extra, ...]) -> None:
    design = add_command(
        actions,
        "design",
        design_command,
        extras,
        help="the schedule with the lowest predicted final loss for a budget",
    )
    design.add_argument("fit", type=checked(existing), metavar="FIT.json")
    add_budget(design)
    design.add_argument("--peak", type=checked(positive), required=True, help="the peak LR")
    design.add_argument(
        "--families",
        nargs="+",
        choices=FAMILY_NAMES,
        default=list(FAMILY_NAMES),
        metavar="FAMILY",
        help=f"the families to search (default all: {', '.join(FAMILY_NAMES)})",
    )
    design.add_argument(
        "--warmup-steps",
        type=checked(at_least(0)),
        default=0,
        help="every candidate's warmup, as your runs had",
    )
    design.add_argument(
        "--baseline",
        action="append",
        metavar="SPEC",
        help="a spec to report the gain over (repeatable; default cosine and linear, with the warmup)",
    )
    design.add_argument("--json", action="store_true", help="print the design as JSON")
    design.add_argument("--plot", type=checked(plot_file), help="the candidates' predicted curves")
    add_quiet(design)


def design_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import load_fit
    from budgetlr.plan.designing import BASELINES, design

    fitted = load_fit(args.fit)
    total_steps = steps_of(args)
    power = None
    if args.tokens_per_step and args.samples_per_step:
        power = f"tokens_per_step={args.tokens_per_step:g}, batch={args.samples_per_step:g}"
    result = design(
        fitted,
        total_steps,
        args.peak,
        args.families,
        warmup_steps=args.warmup_steps,
        power=power,
        baselines=args.baseline or BASELINES,
        progress=not args.quiet,
    )
    print_answer(args, result.to_json(), format_design(result), result.extrapolation,
                 lambda path: plot_design(fitted, result, path))  # fmt: skip


def format_design(result: Any) -> str:
    best = result.best
    lines = [
        f"{len(result.candidates)} candidates over {result.total_steps} steps at peak {result.peak:g}, "
        f"law {result.law}; intervals are the fit's 95% bootstrap intervals",
        f"best: {best.spec}: final loss {best.final_loss:.5f} ({best.low:.5f} .. {best.high:.5f})",
    ]
    for gain in result.gains:
        verdict = "exceeds the interval" if gain.exceeds else "within the interval: not a predicted gain"
        lines.append(
            f"  gain over {gain.baseline}: {gain.gain:+.5f} ({100 * gain.relative:+.2f}%), "
            f"interval {gain.low:+.5f} .. {gain.high:+.5f}: {verdict}"
        )
    lines.append("best of each family:")
    seen = set()
    for candidate in result.candidates:
        if candidate.family not in seen:
            seen.add(candidate.family)
            lines.append(f"  {candidate.final_loss:.5f}  {candidate.spec}")
    lines += [f"extrapolation: {reason}" for reason in result.extrapolation]
    lines += [f"not searched: {reason}" for reason in result.skipped]
    return "\n".join(lines)


def plot_design(fitted: Any, result: Any, path: Path) -> None:
    from budgetlr.plan import predict_schedule

    figure, axes = panels(1, 4.0)
    axis = axes[0]
    shown: dict[str, str] = {}
    for candidate in result.candidates:
        shown.setdefault(candidate.family, candidate.spec)
    specs = [*shown.values(), *(gain.baseline for gain in result.gains)]
    lows, highs = [], []
    for index, spec in enumerate(dict.fromkeys(specs)):
        prediction = predict_schedule(fitted, spec, result.total_steps, result.peak)
        style = "--" if index >= len(shown) else "-"
        width = 2.0 if spec == result.best.spec else 1.0
        axis.plot(prediction.steps, prediction.loss, style, linewidth=width, label=spec)
        lows.append(float(prediction.loss.min()))
        highs.append(float(prediction.loss[prediction.steps.size // 3]))
    # The curves differ in the last part of training: the view starts a third of the way in.
    axis.set_ylim(0.998 * min(lows), max(highs))
    axis.set(xlabel="step", ylabel="predicted loss")
    axis.set_title(f"best of each family (dashed: baselines), law {result.law}", fontsize=8)
    axis.legend(fontsize=6)
    save(figure, path)


def add_lr(actions: Any, extras: tuple[Extra, ...]) -> None:
    lr = add_command(
        actions, "lr", lr_command, extras, help="the peak LR for a schedule and budget, from runs at 2+ peaks"
    )
    add_runs(lr, "+")
    lr.add_argument("--schedule", required=True, help="the schedule to tune the peak LR for, a budgetlr spec")
    add_budget(lr)
    lr.add_argument("--seed", type=checked(at_least(0)), default=0, help="seed of the bootstrap")
    lr.add_argument("--json", action="store_true", help="print the answer as JSON")
    lr.add_argument("--plot", type=checked(plot_file), help="the runs' final losses against the peak LR")


def lr_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import read_run
    from budgetlr.plan.peaks import peak_lr

    runs = distinct([read_run(path) for path in args.runs])
    result = peak_lr(runs, args.schedule, steps_of(args), seed=args.seed)
    print_answer(args, result.to_json(), format_peak(result), result.extrapolation,
                 lambda path: plot_peak(runs, result, path))  # fmt: skip


def format_peak(result: Any) -> str:
    widened = (
        f"the bootstrap's widened x{result.widened:.2f} by the law's largest held-out error"
        if result.widened > 1
        else "the bootstrap's alone: no horizon could be held out"
    )
    lines = [
        f"peak LR for {result.schedule} over {result.total_steps} steps: {result.peak:.4g} "
        f"(95% interval {result.low:.4g} .. {result.high:.4g}, {widened}), law {result.chosen}",
        "  law    peak LR     bootstrap interval    held-out error |log2(predicted / observed tuned LR)|",
    ]
    for law in result.laws:
        if law.peak is None:
            lines.append(f"  {law.law:<6} not fitted: {law.reason}")
            continue
        error = (
            f"median {law.held_out_error:.2f} over {len(law.held_out)} horizons"
            if law.held_out
            else "no horizon could be held out"
        )
        lines.append(f"  {law.law:<6} {law.peak:<11.4g} {law.low:.4g} .. {law.high:<10.4g} {error}")
    lines += [f"extrapolation: {reason}" for reason in result.extrapolation]
    return "\n".join(lines)


def plot_peak(runs: list, result: Any, path: Path) -> None:
    import numpy as np

    figure, axes = panels(1, 3.5)
    axis = axes[0]
    for horizon in sorted({run.total_steps for run in runs}):
        same = sorted((run for run in runs if run.total_steps == horizon), key=lambda run: run.peak)
        axis.plot(
            [run.peak for run in same], [run.losses[-1] for run in same], "o", label=f"runs, {horizon} steps"
        )
    if result.bound_curve is not None:
        peaks = [run.peak for run in runs] + [result.low, result.high]
        grid = np.geomspace(min(peaks) / 1.5, max(peaks) * 1.5, 200)
        axis.plot(grid, result.bound_final_loss(grid), "--", color="0.3",
                  label=f"bound's final loss, {result.total_steps} steps")  # fmt: skip
    axis.axvline(result.peak, color="C3", label=f"chosen ({result.chosen})")
    axis.axvspan(result.low, result.high, color="C3", alpha=0.15, label="interval")
    axis.set_xscale("log")
    axis.set(xlabel="peak LR", ylabel="final loss")
    axis.set_title(f"{result.schedule}, {result.total_steps} steps: final loss against peak LR", fontsize=8)
    axis.legend(fontsize=7)
    save(figure, path)
