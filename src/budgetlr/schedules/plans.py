"""What :class:`budgetlr.torch.BudgetScheduler` follows: a schedule fitted to a budget, and how a
budget change re-plans it (docs/conventions.md, "Budget changes")."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from budgetlr.schedules.base import FloatArray, Schedule
from budgetlr.schedules.registry import parse
from budgetlr.schedules.shapes import decay_shape

#: How a budget change re-plans a run: the new budget's curve at the same step (``rescale``), the
#: LR kept continuous (``continue``) or a WSD cooldown to the floor (``cooldown``).
BudgetPolicy = Literal["rescale", "continue", "cooldown"]
POLICIES: tuple[BudgetPolicy, ...] = get_args(BudgetPolicy)


@dataclass(frozen=True)
class Plan:
    """What the scheduler follows from step ``anchor`` on: ``spec`` fitted to ``total_steps``,
    scaled about its final value by ``scale`` (``continue``), or a cooldown from ``cooldown_from``."""

    spec: Schedule
    total_steps: int
    anchor: int = 0
    scale: float = 1.0
    cooldown_shape: str | None = None
    cooldown_from: float = 0.0

    def ratios(self, t: FloatArray) -> FloatArray:
        """``lr / base_lr`` at steps ``t``; meaningful from ``anchor`` on (earlier steps are history)."""
        if self.cooldown_shape is not None:
            floor = self.spec.floor
            x = (t - self.anchor) / (self.total_steps - self.anchor)
            return floor + (self.cooldown_from - floor) * decay_shape(self.cooldown_shape, x)
        ratios: FloatArray = self.spec.multiplier(t, self.total_steps)
        if self.scale == 1.0:
            return ratios
        end = float(self.spec.multiplier(self.total_steps, self.total_steps))
        return end + self.scale * (ratios - end)

    def ratio(self, t: int) -> float:
        return float(self.ratios(np.array([float(t)]))[0])

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "spec": str(self.spec)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Plan:
        return cls(**{**state, "spec": parse(state["spec"])})


def check_policy(policy: object) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown budget policy {policy!r}; valid policies: {', '.join(POLICIES)}")
