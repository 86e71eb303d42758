"""A training budget in the unit a run is planned in: optimizer steps, tokens, samples or seconds.

    >>> Budget.parse(10_000)
    Budget(amount=10000, unit='steps')
    >>> Budget.parse("2e9 tokens"), Budget.parse("50000 samples")
    (Budget(amount=2000000000, unit='tokens'), Budget(amount=50000, unit='samples'))
    >>> Budget.parse("3h"), Budget.parse("1:30:00"), Budget.parse("90 min").amount
    (Budget(amount=10800, unit='seconds'), Budget(amount=5400, unit='seconds'), 5400)

Steps, tokens and samples are whole counts; seconds may be fractional (a whole amount is an
``int``). ``str(budget)`` parses back to the same budget. Pure parsing: the scheduler that follows a budget is
:class:`budgetlr.torch.BudgetScheduler`.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import Schedule

#: The units a budget may be given in; each maps to how many of the canonical unit it holds.
UNIT_WORDS: dict[str, tuple[str, float]] = {
    **dict.fromkeys(("", "step", "steps"), ("steps", 1.0)),
    **dict.fromkeys(("token", "tokens"), ("tokens", 1.0)),
    **dict.fromkeys(("sample", "samples", "example", "examples"), ("samples", 1.0)),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), ("seconds", 1.0)),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), ("seconds", 60.0)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("seconds", 3600.0)),
    **dict.fromkeys(("d", "day", "days"), ("seconds", 86400.0)),
}
UNITS = ("steps", "tokens", "samples", "seconds")
#: Counted units: a budget in them is a whole number.
COUNTS = ("steps", "tokens", "samples")

AMOUNT = re.compile(r"\s*([0-9][0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*")
#: ``H:MM:SS`` or, as Lightning's ``max_time`` writes it, ``DD:HH:MM:SS``.
CLOCK = re.compile(r"\s*(?:(\d+):)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*")


@dataclass(frozen=True)
class Budget:
    """``amount`` of ``unit`` (one of :data:`UNITS`): what a run may spend before it ends."""

    amount: float
    unit: str = "steps"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise InvalidInput(f"unknown budget unit {self.unit!r}; valid units: {', '.join(UNITS)}")
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            raise InvalidInput(f"a budget must be a finite number, got {amount!r}")
        if amount <= 0:
            raise InvalidInput(f"a budget must be > 0, got {amount!r} {self.unit}")
        if self.unit in COUNTS and not float(amount).is_integer():
            raise InvalidInput(f"a budget in {self.unit} must be a whole number, got {amount!r}")
        if float(amount).is_integer():
            object.__setattr__(self, "amount", int(amount))

    @classmethod
    def parse(cls, value: Budget | int | str | datetime.timedelta) -> Budget:
        """A budget from an int (steps), a ``timedelta``, or a string such as ``"2e9 tokens"``,
        ``"50000 samples"``, ``"10000 steps"``, ``"5400s"``, ``"90 min"``, ``"3h"``, ``"1:30:00"``."""
        if isinstance(value, Budget):
            return value
        if isinstance(value, datetime.timedelta):
            return cls(value.total_seconds(), "seconds")
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidInput(
                f"a budget must be a whole number of steps or a string such as '2e9 tokens' or '3h', got {value!r}"
            )
        if isinstance(value, int):
            return cls(value, "steps")
        clock = CLOCK.fullmatch(value)
        if clock:
            days, hours, minutes, seconds = clock.groups()
            return cls(
                int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds), "seconds"
            )
        match = AMOUNT.fullmatch(value)
        word = match.group(2).lower() if match else ""
        if match is None or word not in UNIT_WORDS:
            raise InvalidInput(
                f"malformed budget {value!r}: expected a number and a unit ({', '.join(UNITS)}, "
                "min, h, d), e.g. '2e9 tokens', '50000 samples', '5400s', '3h' or '1:30:00'"
            )
        unit, scale = UNIT_WORDS[word]
        return cls(float(match.group(1).replace("_", "")) * scale, unit)

    @property
    def in_steps(self) -> bool:
        return self.unit == "steps"

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def check_fits(schedule: Schedule, budget: Budget) -> None:
    """Raise if ``schedule`` gives an option in steps (``warmup_steps``, ``decay_steps``, ...) while
    ``budget`` is not in steps (a count of steps has no fixed place in tokens, samples or time), or
    is defined on step indices while ``budget`` counts tokens or samples."""
    if budget.in_steps:
        return
    if schedule.step_indexed and budget.unit in ("tokens", "samples"):
        raise InvalidInput(
            f"{schedule.name} reads the optimizer-step index itself, not only progress; "
            f"give it a budget in steps or time, not {budget.unit}"
        )
    given = [key for key, value in schedule.to_dict().items() if key.endswith("_steps") and value is not None]
    if given:
        fractions = ", ".join(f"{key.removesuffix('_steps')}=..." for key in given)
        raise InvalidInput(
            f"{', '.join(given)} counts optimizer steps, but the budget is {budget}; "
            f"give {fractions} as a fraction of the budget instead"
        )
