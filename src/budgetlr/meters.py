"""What :class:`budgetlr.torch.BudgetScheduler` measures when the budget is not in steps.

* Tokens or samples (:class:`Consumption`): the schedule runs on the amount consumed, so a run
  whose batches grow follows its budget exactly. The amount is the schedule's step coordinate
  (``T`` = the budget), with one change in the warmup: the step about to run is counted whole, as
  the step convention counts step ``t`` as ``t + 1`` in the ramp ``(t + 1) / (W + 1)``. With ``n``
  the amount of a step, the ramp is ``(c + n) / (W + n)`` at ``c`` consumed, which for a constant
  ``n`` is the step budget's ramp exactly (``n`` is the last step's amount; for the first step,
  the scheduler's ``per_step`` if given, else one unit).
* Seconds (:class:`Deadline`): the schedule runs on steps, planned to the number of steps that fit
  in the remaining time at the measured throughput, and re-planned (LR continuous) when that
  estimate moves by more than a threshold, so the LR reaches its final value at the deadline.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.budget import BudgetUnit
from budgetlr.schedules.plans import check_keys, real_number

Clock = Callable[[], float]

#: Steps over which the time per step is averaged.
THROUGHPUT_WINDOW = 20
#: A time budget re-plans when the steps that fit move by more than this fraction of the steps left.
REPLAN_THRESHOLD = 0.05


def scalar(value: Any) -> float | None:
    """``value`` as a float if it is one real number (not a bool): an int, a float, a numpy number,
    or a 0-d array or tensor; else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)):
        return scalar(value.item())
    return None


class Consumption:
    """Tokens or samples consumed so far, and the amount of the last step."""

    def __init__(self, unit: BudgetUnit, first_step: float | None = None) -> None:
        self.unit = unit
        self.consumed = 0.0
        self.pending = 0.0
        if first_step is not None:
            self.add(first_step)
        self.last, self.pending = self.pending or 1.0, 0.0

    def add(self, amount: Any) -> None:
        """Count ``amount`` more (a step's tokens or samples) towards the next :meth:`advance`: an
        int or a float, a numpy number or a 0-d tensor (``batch["input_ids"].numel()``)."""
        number = scalar(amount)
        if number is None or not math.isfinite(number):
            raise InvalidInput(
                f"{self.unit}= must be a number (int, float, numpy number or 0-d tensor), got {amount!r}"
            )
        if number <= 0:
            raise InvalidInput(f"{self.unit}= must be > 0: what the step consumed, got {amount!r}")
        self.pending += number

    def advance(self) -> None:
        if self.pending == 0:
            raise InvalidInput(
                f"the budget is in {self.unit}: call scheduler.step({self.unit}=n) with what the step consumed"
            )
        self.consumed += self.pending
        self.last, self.pending = self.pending, 0.0

    def position(self, warmup: int) -> float:
        """The schedule coordinate for the next step: ``consumed``, moved inside the warmup so that
        the ramp ``(t + 1) / (W + 1)`` reads ``(consumed + n) / (W + n)``."""
        if self.consumed >= warmup:
            return self.consumed
        return (self.consumed + self.last) * (warmup + 1) / (warmup + self.last) - 1

    def state_dict(self) -> dict[str, float]:
        return {"consumed": self.consumed, "last": self.last}

    def load_state_dict(self, state: object) -> None:
        """Take up a checkpoint's meter; a malformed one raises ``ValueError`` naming the field."""
        check_keys("meter", state, {"consumed", "last"})
        assert isinstance(state, Mapping)
        consumed = real_number("meter.consumed", state["consumed"], least=0.0)
        last = real_number("meter.last", state["last"], least=0.0)
        if last == 0.0:
            raise ValueError("checkpoint's meter.last must be > 0: what the last step consumed")
        self.consumed, self.last, self.pending = consumed, last, 0.0


class Deadline:
    """Elapsed time against a budget of ``seconds``, and the throughput of the last steps.

    ``clock`` returns seconds (default ``time.monotonic``); only its differences are used, so a
    resumed run continues the saved elapsed time (the time between a save and a resume does not
    count)."""

    def __init__(
        self, seconds: float, clock: Clock | None = None, threshold: float = REPLAN_THRESHOLD
    ) -> None:
        if not 0.0 <= threshold < 1.0:
            raise InvalidInput(
                f"replan_threshold={threshold!r} is a fraction of the steps left; it must lie in [0, 1)"
            )
        self.seconds = seconds
        self.clock = time.monotonic if clock is None else clock
        self.threshold = threshold
        self.durations: deque[float] = deque(maxlen=THROUGHPUT_WINDOW)
        # The first step's duration also holds whatever ran between the scheduler's construction
        # and that step (a trainer's setup): it plans the run only until a second is measured.
        self._holds_only_first = False
        self._resume(0.0)

    def start(self) -> None:
        """Restart the clock at zero, before the first step: for trainers whose setup runs
        between the scheduler's construction and training (the clock starts at construction)."""
        self.durations.clear()
        self._resume(0.0)

    def _resume(self, elapsed: float) -> None:
        self._elapsed_at_mark, self._mark = elapsed, self.clock()
        self._last_tick = elapsed

    def elapsed(self) -> float:
        return self._elapsed_at_mark + self.clock() - self._mark

    def tick(self) -> None:
        """A step has ended: record its duration."""
        now = self.elapsed()
        if self._holds_only_first:
            self.durations.clear()
            self._holds_only_first = False
        elif not self.durations:
            self._holds_only_first = True
        self.durations.append(now - self._last_tick)
        self._last_tick = now

    def steps_left(self) -> int:
        """Whole steps that fit in the remaining time at the mean duration of the recent steps."""
        per_step = sum(self.durations) / len(self.durations)
        remaining = self.seconds - self.elapsed()
        if remaining <= 0:
            return 0
        return int(remaining / per_step) if per_step > 0 else int(remaining)

    def moved(self, planned: int, estimated: int, done: int) -> bool:
        """True if ``estimated`` total steps differs from ``planned`` by a whole step and by more
        than the threshold of the steps left."""
        gap = abs(estimated - planned)
        return gap >= 1 and gap > self.threshold * max(planned - done, 0)

    def state_dict(self) -> dict[str, Any]:
        return {"elapsed": self.elapsed(), "durations": list(self.durations)}

    def load_state_dict(self, state: object) -> None:
        """Take up a checkpoint's meter; a malformed one raises ``ValueError`` naming the field."""
        check_keys("meter", state, {"elapsed", "durations"})
        assert isinstance(state, Mapping)
        elapsed = real_number("meter.elapsed", state["elapsed"], least=0.0)
        durations = state["durations"]
        if not isinstance(durations, (list, tuple)):
            raise ValueError(f"checkpoint's meter.durations must be a list of seconds, got {durations!r}")
        seconds = [real_number("meter.durations", d, least=0.0) for d in durations]
        self.durations = deque(seconds, maxlen=THROUGHPUT_WINDOW)
        self._resume(elapsed)
