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
from enum import StrEnum

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import MAX_STEPS, Schedule


class BudgetUnit(StrEnum):
    """What a budget counts. ``STEPS``, ``TOKENS`` and ``SAMPLES`` are whole counts."""

    STEPS = "steps"
    TOKENS = "tokens"
    SAMPLES = "samples"
    SECONDS = "seconds"

    def __repr__(self) -> str:  # a Budget's repr reads as it is written: unit='steps'
        return repr(self.value)

    @property
    def counted(self) -> bool:
        return self is not BudgetUnit.SECONDS

    @property
    def consumed(self) -> bool:
        """Tokens or samples: a run reports what each step consumed."""
        return self in (BudgetUnit.TOKENS, BudgetUnit.SAMPLES)


#: The words a budget may be given in; each maps to its unit and how many of the unit it holds.
UNIT_WORDS: dict[str, tuple[BudgetUnit, float]] = {
    **dict.fromkeys(("", "step", "steps"), (BudgetUnit.STEPS, 1.0)),
    **dict.fromkeys(("token", "tokens"), (BudgetUnit.TOKENS, 1.0)),
    **dict.fromkeys(("sample", "samples", "example", "examples"), (BudgetUnit.SAMPLES, 1.0)),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), (BudgetUnit.SECONDS, 1.0)),
    **dict.fromkeys(("min", "mins", "minute", "minutes"), (BudgetUnit.SECONDS, 60.0)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), (BudgetUnit.SECONDS, 3600.0)),
    **dict.fromkeys(("d", "day", "days"), (BudgetUnit.SECONDS, 86400.0)),
}
UNITS = tuple(BudgetUnit)

AMOUNT = re.compile(r"\s*([0-9][0-9_]*\.?[0-9_]*(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*")
#: ``H:MM:SS`` or, as Lightning's ``max_time`` writes it, ``DD:HH:MM:SS``.
CLOCK = re.compile(r"\s*(?:(\d+):)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)\s*")


@dataclass(frozen=True)
class Budget:
    """``amount`` of ``unit`` (a :class:`BudgetUnit` or its name): what a run may spend before it ends."""

    amount: float
    unit: BudgetUnit = BudgetUnit.STEPS

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise InvalidInput(f"unknown budget unit {self.unit!r}; valid units: {', '.join(UNITS)}")
        object.__setattr__(self, "unit", BudgetUnit(self.unit))
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not math.isfinite(amount):
            raise InvalidInput(f"a budget must be a finite number, got {amount!r}")
        if amount <= 0:
            raise InvalidInput(f"a budget must be > 0, got {amount!r} {self.unit}")
        if amount > MAX_STEPS:
            raise InvalidInput(
                f"a budget must be at most 2^53 = {MAX_STEPS:,} {self.unit} (float64 counts exactly up to it), "
                f"got {amount:.4g}"
            )
        if self.unit.counted and not float(amount).is_integer():
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
            return cls(value.total_seconds(), BudgetUnit.SECONDS)
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise InvalidInput(
                f"a budget must be a whole number of steps or a string such as '2e9 tokens' or '3h', got {value!r}"
            )
        if isinstance(value, int):
            return cls(value, BudgetUnit.STEPS)
        clock = CLOCK.fullmatch(value)
        if clock:
            days, hours, minutes, seconds = clock.groups()
            if int(minutes) >= 60 or float(seconds) >= 60 or (days is not None and int(hours) >= 24):
                raise InvalidInput(
                    f"malformed budget {value!r}: a clock time is H:MM:SS or DD:HH:MM:SS, with minutes and "
                    "seconds below 60 (and hours below 24 after days)"
                )
            return cls(
                int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds),
                BudgetUnit.SECONDS,
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
        return self.unit is BudgetUnit.STEPS

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


def check_fits(schedule: Schedule, budget: Budget) -> None:
    """Raise if ``schedule`` gives an option in steps (``warmup_steps``, ``decay_steps``, ...) while
    ``budget`` is not in steps (a count of steps has no fixed place in tokens, samples or time), or
    reads the step index itself (:meth:`Schedule.reads_step_index`) while ``budget`` counts tokens
    or samples (a budget in time runs the schedule on steps, which such a schedule follows)."""
    if budget.in_steps:
        return
    reason = schedule.reads_step_index()
    if reason is not None and budget.unit.consumed:
        raise InvalidInput(f"{reason}; give it a budget in steps or time, not {budget.unit}")
    given = [key for key, value in schedule.to_dict().items() if key.endswith("_steps") and value is not None]
    if given:
        fractions = ", ".join(f"{key.removesuffix('_steps')}=..." for key in given)
        raise InvalidInput(
            f"{', '.join(given)} counts optimizer steps, but the budget is {budget}; "
            f"give {fractions} as a fraction of the budget instead"
        )
