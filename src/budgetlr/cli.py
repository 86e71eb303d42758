"""``budgetlr``: the command line. Bad input prints one line on stderr and exits with code 2."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from budgetlr.schedules import FAMILIES, BoundSchedule, keys_of, schedule

TABLE_ROWS = 25


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> Parser:
    parser = Parser(prog="budgetlr", description="Learning-rate schedules for budgeted training.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser("list", help="list schedule families, their keys, defaults and papers")
    show = commands.add_parser("show", help="print (and plot) the LR curve of one or more specs")
    show.add_argument("specs", nargs="+", metavar="SPEC", help='e.g. "uba(phi=0.5, warmup=0.05)"')
    show.add_argument("--steps", type=int, required=True, help="the budget T in optimizer steps")
    show.add_argument("--peak", type=float, default=1.0, help="peak LR (default 1: multipliers)")
    show.add_argument("--csv", type=Path, help="write the LR at every step 0..T to this CSV file")
    show.add_argument("--plot", type=Path, help="draw all curves on one figure into this PNG file")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        if args.command == "list":
            print(format_families())
        else:
            show(args)
    except (UsageError, ValueError, OSError) as error:
        print(f"budgetlr: error: {error}", file=sys.stderr)
        return 2
    return 0


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
    return "\n".join(lines)


def show(args: argparse.Namespace) -> None:
    if not np.isfinite(args.peak) or args.peak <= 0:
        raise UsageError(f"--peak must be a positive number, got {args.peak}")
    for option, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"cannot write {option} {path}: folder {path.parent} does not exist")
    curves = [schedule(spec, args.steps) for spec in args.specs]
    lrs = [c.curve(args.peak) for c in curves]
    print(format_table(curves, lrs))
    if args.csv:
        write_csv(args.csv, curves, lrs)
        print(f"wrote {args.csv}")
    if args.plot:
        plot(args.plot, curves, lrs, args.peak)
        print(f"wrote {args.plot}")


def table_steps(total_steps: int, warmups: list[int]) -> list[int]:
    spaced = np.linspace(0, total_steps, TABLE_ROWS).round().astype(int).tolist()
    return sorted({*spaced, *warmups, total_steps - 1, total_steps} - {-1})


def format_table(curves: list[BoundSchedule], lrs: list[np.ndarray]) -> str:
    total_steps = curves[0].total_steps
    steps = table_steps(total_steps, [c.spec.warmup_end(total_steps) for c in curves])
    names = [str(c) for c in curves]
    widths = [max(len(n), 12) for n in names]
    header = "  ".join(["step".rjust(8), *(n.rjust(w) for n, w in zip(names, widths, strict=True))])
    rows = [header]
    for t in steps:
        cells = (f"{lr[t]:.6g}".rjust(w) for lr, w in zip(lrs, widths, strict=True))
        rows.append("  ".join([str(t).rjust(8), *cells]))
    return "\n".join(rows)


def write_csv(path: Path, curves: list[BoundSchedule], lrs: list[np.ndarray]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", *(str(c) for c in curves)])
        for t, row in enumerate(zip(*lrs, strict=True)):
            writer.writerow([t, *(repr(float(v)) for v in row)])


def plot(path: Path, curves: list[BoundSchedule], lrs: list[np.ndarray], peak: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), layout="constrained")
    steps = np.arange(curves[0].total_steps + 1)
    for curve, lr in zip(curves, lrs, strict=True):
        axes.plot(steps, lr, label=str(curve), linewidth=1.6)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("learning rate" if peak != 1.0 else "multiplier of the peak LR")
    axes.set_title(f"budgetlr schedules, total_steps={curves[0].total_steps}")
    axes.grid(alpha=0.3)
    axes.legend()
    try:
        figure.savefig(path, dpi=120)
    finally:
        plt.close(figure)
