"""``budgetlr``: the command line, one thin module per command group.

- :mod:`.schedules`: ``list`` and ``show``, the library's commands, which need no extra;
- :mod:`.plan`: ``plan fit`` and ``plan predict`` (``budgetlr[plan]``);
- :mod:`.bench`: ``bench``, ``report`` and ``export``, and :mod:`.study`: the study's commands
  (the application, ``budgetlr[bench]``).

Every argument is checked when it is parsed (the ``type=`` functions of :mod:`.arguments` and
:mod:`.trial_arguments`), and every extra a command needs before it runs, so nothing runs or is
stored on bad input. Bad input (a :class:`UsageError` or the project's
:class:`~budgetlr.errors.InvalidInput`), a missing extra or an operating-system error (disk full,
permission denied) prints one line on stderr and exits with code 2; any other exception is a bug
and keeps its traceback. ``--debug`` (or ``BUDGETLR_DEBUG=1``) shows the traceback of every error
and the libraries' warnings, which are otherwise silenced.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from collections.abc import Sequence

from budgetlr._extras import MissingExtra, require_extra
from budgetlr.cli import bench, plan, schedules, study
from budgetlr.cli.arguments import Parser
from budgetlr.errors import InvalidInput

DEBUG_VARIABLE = "BUDGETLR_DEBUG"
GROUPS = (schedules, bench, study, plan)


def build_parser() -> Parser:
    parser = Parser(
        prog="budgetlr",
        description="Learning-rate schedules for budgeted training.",
        epilog=(
            "--budget is always a budget in steps, tokens, samples or time ('2e9 tokens', '3h'); "
            "--budget-fraction always a fraction of a workload's full budget."
        ),
    )
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of any error (or set {DEBUG_VARIABLE}=1)"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for group in GROUPS:
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    try:
        args = build_parser().parse_args(argv)
        for extra in args.extras:
            require_extra(extra, f"budgetlr {args.command}")
        if getattr(args, "plot", None) is not None:
            require_extra("plot", "--plot")
        with warnings.catch_warnings():
            if not debug:  # libraries' warnings (matplotlib's layout, numpy's overflow) are terminal noise
                warnings.simplefilter("ignore")
            args.run(args)
    except BrokenPipeError:  # the reader stopped early (`budgetlr list | head`): nothing went wrong
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush is quiet
        return 128 + signal.SIGPIPE
    except (InvalidInput, MissingExtra, OSError) as error:
        if debug:
            raise
        return fail(str(error))
    except KeyboardInterrupt:
        print(
            "budgetlr: interrupted; finished trials are stored: rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    return 0


def fail(message: str) -> int:
    """Exit code 2 with ``message`` as one line on stderr."""
    print(f"budgetlr: error: {' '.join(message.split())}", file=sys.stderr)
    return 2
