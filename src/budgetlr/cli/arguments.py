"""The validation layer: argparse ``type=`` functions, each refusing bad input in one line.

These are the library's: they import nothing of the application, so that ``list``, ``show`` and
``plan`` work without an extra. The trial options' checks are in :mod:`budgetlr.cli.trial_arguments`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from budgetlr._extras import Extra
from budgetlr.errors import InvalidInput
from budgetlr.files import refuse_database_file
from budgetlr.schedules import split_specs

PLOT_SUFFIXES = (".png", ".pdf", ".svg")
#: The largest whole number an option takes: int64's, which numpy and SQLite hold.
MAX_WHOLE_NUMBER = 2**63 - 1
T = TypeVar("T")


class UsageError(InvalidInput):
    """Bad command-line input: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def add_quiet(command: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bar, for a command that shows one."""
    command.add_argument("--quiet", action="store_true", help="no progress bar")


def add_command(
    commands: argparse._SubParsersAction,
    name: str,
    run: Callable[[argparse.Namespace], None],
    extras: tuple[Extra, ...] = (),
    *,
    help: str,
) -> Parser:
    """A sub-command that calls ``run(args)``, once every extra in ``extras`` is installed."""
    parser: Parser = commands.add_parser(name, help=help)
    parser.set_defaults(run=run, extras=extras)
    return parser


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
    """``"0.1,0.25"`` -> ``[0.1, 0.25]``, with an error naming ``what`` and the bad item."""
    items = [item.strip() for item in text.split(",")]
    try:
        return [convert(item) for item in items]
    except ValueError:
        raise InvalidInput(f"malformed {what} list {text!r}: expected comma-separated numbers") from None


def positive(text: str) -> float:
    value = to_number(text, float)
    if value <= 0:
        raise InvalidInput(f"must be a positive number, got {text}")
    return value


def at_least(minimum: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        value = to_number(text, int)
        if not minimum <= value <= MAX_WHOLE_NUMBER:
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


def existing(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise InvalidInput(f"{text} is not a file")
    return path


def output_file(text: str) -> Path:
    """A file budgetlr may write: in an existing folder, not a folder or a device, and never part
    of a SQLite database (a results database and its log are never written over)."""
    path = Path(text)
    if path.exists() and not path.is_file():
        raise InvalidInput(f"cannot write {text}: it exists and is not a regular file")
    refuse_database_file(path)
    if not path.parent.is_dir():
        raise InvalidInput(f"cannot write {text}: folder {path.parent} does not exist")
    return path


def plot_file(text: str) -> Path:
    path = output_file(text)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise InvalidInput(f"{text} must end in one of {', '.join(PLOT_SUFFIXES)} (the plot's format)")
    return path
