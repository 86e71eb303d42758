"""What :class:`budgetlr.torch.BudgetScheduler` follows: a schedule fitted to a budget, how a
budget change re-plans it (docs/conventions.md, "Budget changes"), and what its checkpoint holds.

The policies of a budget change (:data:`BudgetPolicy`):

* ``rescale``: the new budget's curve at the same step; the LR may jump, on purpose.
* ``continue``: the LR stays continuous. The rest of the run follows the schedule fitted to the
  new budget (its warmup kept in steps), scaled about its final value so that it starts from the
  current LR and ends exactly where the family ends at the new ``total_steps``: the floor for
  every decaying family (a step schedule ends at ``gamma^k``).
* ``cooldown``: decay from the current LR to the floor over the remaining steps with a WSD
  shape, then hold the floor: a WSD cooldown branch (arXiv 2405.18392). This is not WSD-S
  (arXiv 2410.05192), which returns to the peak LR after each decay and trains on.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule
from budgetlr.schedules.registry import parse
from budgetlr.schedules.shapes import SHAPES, decay_shape

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
    def from_dict(cls, state: object) -> Plan:
        """The plan a checkpoint saved, every field checked: a malformed one raises ``ValueError``
        naming the field."""
        check_keys("plan", state, PLAN_KEYS)
        assert isinstance(state, Mapping)
        try:
            spec = parse(state["spec"])
        except InvalidInput as error:
            raise ValueError(f"checkpoint's plan.spec: {error}") from None
        total_steps = whole_number("plan.total_steps", state["total_steps"], least=1)
        anchor = whole_number("plan.anchor", state["anchor"], least=0)
        if anchor > total_steps:
            raise ValueError(f"checkpoint's plan.anchor {anchor} lies past its total_steps {total_steps}")
        shape = state["cooldown_shape"]
        if shape is not None and not (isinstance(shape, str) and shape in SHAPES):
            raise ValueError(f"checkpoint's plan.cooldown_shape {shape!r} is not one of {', '.join(SHAPES)}")
        plan = cls(
            spec,
            total_steps,
            anchor,
            real_number("plan.scale", state["scale"], least=0.0),
            shape,
            real_number("plan.cooldown_from", state["cooldown_from"], least=0.0, most=1.0),
        )
        try:
            spec.validate(total_steps)
        except InvalidInput as error:
            raise ValueError(f"checkpoint's plan does not fit its total_steps: {error}") from None
        steps = np.unique(
            [*np.linspace(anchor, total_steps, CHECKED_STEPS).round(), spec.warmup_end(total_steps)]
        )
        ratios = plan.ratios(steps[steps >= anchor])
        if not (np.isfinite(ratios).all() and ratios.min() >= 0 and ratios.max() <= 1.0 + 1e-12):
            raise ValueError(
                f"checkpoint's plan gives multipliers from {ratios.min():g} to {ratios.max():g} of the peak, "
                "outside [0, 1]"
            )
        return plan


PLAN_KEYS = {field.name for field in dataclasses.fields(Plan)}
#: A loaded plan's multipliers are checked at this many steps from its anchor to its end (and at
#: its warmup's end, where a warmup peaks).
CHECKED_STEPS = 1025


def check_keys(name: str, state: object, keys: set[str]) -> None:
    """Refuse ``state`` unless it is a dict holding exactly ``keys``."""
    if not isinstance(state, Mapping) or set(state) != keys:
        raise ValueError(
            f"checkpoint's {name} must be a dict of exactly {', '.join(sorted(keys))}, got {state!r}"
        )


def whole_number(name: str, value: object, least: int) -> int:
    """``value`` if it is a whole number (an int, not a bool) of at least ``least``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
        raise ValueError(f"checkpoint's {name} must be a whole number >= {least}, got {value!r}")
    return int(value)


def real_number(name: str, value: object, least: float, most: float = math.inf) -> float:
    """``value`` if it is a finite real number in ``[least, most]``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"checkpoint's {name} must be a number, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and least <= number <= most):
        bounds = f"[{least:g}, {most:g}]" if math.isfinite(most) else f">= {least:g}"
        raise ValueError(f"checkpoint's {name} must be a finite number {bounds}, got {value!r}")
    return number


def check_policy(policy: object) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown budget policy {policy!r}; valid policies: {', '.join(POLICIES)}")


#: The keys every BudgetScheduler checkpoint holds.
STATE_KEYS = ("spec", "plan", "last_epoch", "_step_count", "base_lrs", "_last_lr")
#: What :meth:`BudgetScheduler.load_state_dict` changes, so that a failure can undo it.
RESTORED = ("last_epoch", "_step_count", "base_lrs", "_last_lr", "plan", "_block_index", "_block")


def check_base_lrs(lrs: list[Any], where: str) -> None:
    for lr in lrs:
        try:
            value = float(lr)  # a float, an int or a one-element tensor
        except (TypeError, ValueError):
            value = math.nan
        if isinstance(lr, (bool, str, bytes)) or not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{where} must be finite numbers >= 0, got {lr!r}")
