"""The trial options' checks, as argparse ``type=`` functions: budgets as fractions of a workload's
full budget, peak LRs a float32 model can train with, seeds the store can hold."""

from __future__ import annotations

import argparse
from pathlib import Path

from budgetlr._extras import Extra
from budgetlr.bench.runner import check_budget, check_lr, check_seed
from budgetlr.cli.arguments import UsageError, checked, folder, number_list, to_number, word
from budgetlr.errors import InvalidInput

#: The extras every application command needs.
BENCH: tuple[Extra, ...] = ("bench",)
DEFAULT_OUT = Path("budgetlr-results")


def add_workload(command: argparse.ArgumentParser, example: str) -> None:
    """The one workload a command runs, required."""
    command.add_argument(
        "--workload", required=True, type=checked(word), help=f"a workload spec, e.g. {example}"
    )


def add_out(command: argparse.ArgumentParser) -> None:
    """The results folder option."""
    command.add_argument(
        "--out",
        type=checked(folder),
        default=str(DEFAULT_OUT),
        help="results folder (default budgetlr-results)",
    )


def fraction(text: str) -> float:
    return check_budget(to_number(text, float))


def fractions(text: str) -> list[float]:
    return [check_budget(value) for value in number_list(text, float, "budget")]


def peak_lr(text: str) -> float:
    return check_lr(to_number(text, float))


def peak_lrs(text: str) -> list[float]:
    return [check_lr(lr) for lr in number_list(text, float, "peak LR")]


def seed(text: str) -> int:
    return check_seed(to_number(text, int))


def seeds(text: str) -> list[int]:
    return [check_seed(s) for s in number_list(text, int, "seed")]


def smoothing(text: str) -> float:
    value = to_number(text, float)
    if not 0.0 <= value < 1.0:
        raise InvalidInput(f"--smoothing must lie in [0, 1), got {text}")
    return value


class RenamedBudget(argparse.Action):
    """``--budget`` where a command takes a fraction of the full budget: refused in one line."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        raise UsageError(
            "--budget is a budget in steps, tokens, samples or time (as in `budgetlr show`); "
            "a fraction of the full budget is --budget-fraction"
        )


def add_budget_fraction(parser: argparse.ArgumentParser, required: bool, help: str) -> None:
    """``--budget-fraction`` (read as ``args.budget``), and ``--budget`` refused naming it."""
    parser.add_argument(
        "--budget-fraction", dest="budget", type=checked(fraction), required=required, help=help
    )
    parser.add_argument("--budget", action=RenamedBudget, nargs="?", help=argparse.SUPPRESS)
