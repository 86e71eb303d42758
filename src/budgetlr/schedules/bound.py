from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from budgetlr.schedules.base import FloatArray, Schedule, check_total_steps
from budgetlr.schedules.registry import parse


@dataclass(frozen=True)
class BoundSchedule:
    """A schedule fitted to a budget: ``multiplier(t)`` and ``lr(t, peak)`` need no ``T``."""

    spec: Schedule
    total_steps: int

    def multiplier(self, t: ArrayLike) -> Any:
        """``lr(t) / peak`` at step(s) ``t``; a float for a scalar, an array for an array."""
        return self.spec.multiplier(t, self.total_steps)

    def lr(self, t: ArrayLike, peak: float) -> Any:
        return self.spec.lr(t, self.total_steps, peak)

    def curve(self, peak: float = 1.0) -> FloatArray:
        """The LR at every step ``0..T`` (``T + 1`` values; the last is the value after training)."""
        return np.asarray(self.lr(np.arange(self.total_steps + 1), peak), dtype=np.float64)

    def __str__(self) -> str:
        return str(self.spec)


def schedule(spec: str | Mapping[str, Any] | Schedule, total_steps: int) -> BoundSchedule:
    """Parse ``spec`` and fit it to ``total_steps``, e.g.
    ``schedule("uba(phi=0.5, warmup=0.05)", total_steps=1000).lr(500, peak=3e-4)``.

    Raises ``ValueError`` naming the offending token for a bad spec or budget.
    """
    parsed = parse(spec)
    total_steps = check_total_steps(total_steps)
    parsed.validate(total_steps)
    return BoundSchedule(parsed, total_steps)
