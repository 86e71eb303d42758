"""The validation layer: argparse ``type=`` functions, each refusing bad input in one line."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from budgetlr.bench.runner import MAX_SEED, check_budget, check_lr, check_seed
from budgetlr.errors import InvalidInput
from budgetlr.schedules import split_specs

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
T = TypeVar("T")


class UsageError(InvalidInput):
    """Bad command-line input: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def checked(convert: Callable[[str], T]) -> Callable[[str], T]:
    """``convert`` as an argparse type: its ``InvalidInput`` becomes argparse's one-line error."""

    def parse(text: str) -> T:
        if not text.strip():
            raise argparse.ArgumentTypeError("must not be empty")
        try:
            return convert(text)
        except InvalidInput as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    parse.__name__ = convert.__name__
    return parse


def number_list(text: str, convert: Callable[[str], T], what: str) -> list[T]:
    from budgetlr.bench.sweep import parse_list

    return parse_list(text, convert, what)


def fraction(text: str) -> float:
    return check_budget(to_number(text, float))


def fractions(text: str) -> list[float]:
    return [check_budget(value) for value in number_list(text, float, "budget")]


def positive(text: str) -> float:
    value = to_number(text, float)
    if value <= 0:
        raise InvalidInput(f"must be a positive number, got {text}")
    return value


def peak_lr(text: str) -> float:
    return check_lr(to_number(text, float))


def peak_lrs(text: str) -> list[float]:
    return [check_lr(lr) for lr in number_list(text, float, "peak LR")]


def seed(text: str) -> int:
    return check_seed(to_number(text, int))


def seeds(text: str) -> list[int]:
    return [check_seed(s) for s in number_list(text, int, "seed")]


def at_least(minimum: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        value = to_number(text, int)
        if not minimum <= value <= MAX_SEED:
            raise InvalidInput(f"must be a whole number >= {minimum}, got {text}")
        return value

    return whole_number


def to_number(text: str, convert: Callable[[str], T]) -> T:
    try:
        value = convert(text.strip())
    except ValueError:
        kind = "whole number" if convert is int else "number"
        raise InvalidInput(f"{text!r} is not a {kind}") from None
    if isinstance(value, float) and not np.isfinite(value):
        raise InvalidInput(f"{text!r} must be a finite number")
    return value


def smoothing(text: str) -> float:
    value = to_number(text, float)
    if not 0.0 <= value < 1.0:
        raise InvalidInput(f"--smoothing must lie in [0, 1), got {text}")
    return value


def specs(text: str) -> list[str]:
    return split_specs(text)


def word(text: str) -> str:
    return text


def folder(text: str) -> Path:
    """A results folder: it may not exist yet, but it must not be a file."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise InvalidInput(f"{text} is not a folder")
    return path


def output_file(text: str) -> Path:
    """A file budgetlr may write: in an existing folder, not a folder or a device, and never a
    SQLite database (a results database is never written over)."""
    from budgetlr.bench.store import is_sqlite

    path = Path(text)
    if path.exists() and not path.is_file():
        raise InvalidInput(f"cannot write {text}: it exists and is not a regular file")
    if path.is_file() and is_sqlite(path):
        raise InvalidInput(f"refusing to write over {text}: it is a SQLite database")
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {text}: folder {path.parent} does not exist")
    return path


def plot_file(text: str) -> Path:
    path = output_file(text)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise InvalidInput(f"{text} must end in one of {', '.join(PLOT_SUFFIXES)} (the plot's format)")
    return path
