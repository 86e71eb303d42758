"""Exponential and inverse-square-root decays: the schedules that can run without a budget."""

from __future__ import annotations

from dataclasses import dataclass

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, namespace, progress
from budgetlr.schedules.registry import register


def geometric_ratio(x: FloatArray, start: float, end: float, floor: float) -> FloatArray:
    """The multiplier before the floor whose final LR ratio falls geometrically from ``start``
    at ``x = 0`` to ``end`` at ``x = 1``: ``start * (end / start)^x``, written through the floor
    interpolation ``floor + (1 - floor) m``."""
    return (start * (end / start) ** x - floor) / (1.0 - floor)


@register
@dataclass(frozen=True)
class Exponential(Schedule):
    """Exponential decay. The floor defaults to 0.01, with ``gamma`` too: ``exponential(gamma=g)``
    is ``0.01 + 0.99 g^t``; ``exponential(gamma=g, floor=0)`` is ``torch.optim.lr_scheduler.ExponentialLR(gamma=g)``
    and ``optax.exponential_decay(peak, 1, g)``.

    Budgeted form (default): the LR ratio is ``floor^p``, reaching the floor exactly at ``T``; a
    geometric decay never reaches 0, so this family's floor defaults to 0.01 and must be > 0.
    Anytime form, with ``gamma``: ``m = gamma^(t - W)``; the floor is then an asymptote reached by
    interpolation.

    >>> from budgetlr import schedule
    >>> decay = schedule("exponential(floor=0.02)", 1000)
    >>> float(decay.multiplier(0)), round(decay.multiplier(500), 4), decay.multiplier(1000)
    (1.0, 0.1414, 0.02)
    """

    name = "exponential"

    gamma: float | None = None
    floor: float = 0.01

    def check(self) -> None:
        if self.gamma is not None and not 0.0 < self.gamma < 1.0:
            raise InvalidInput(f"gamma={self.gamma!r} must lie in (0, 1)")
        if self.gamma is None and self.floor <= 0:
            raise InvalidInput("exponential decay to floor=0 never arrives: give floor > 0 or gamma")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        if self.gamma is not None:
            return self.gamma ** (t - warmup_steps)
        return geometric_ratio(progress(t, total_steps, warmup_steps), 1.0, self.floor, self.floor)

    def is_budgeted(self) -> bool:
        return self.gamma is None

    def reads_step_index(self) -> str | None:
        if self.gamma is None:
            return None
        return "exponential's gamma is a factor per optimizer step (without gamma it decays to floor= by the budget's end)"


@register
@dataclass(frozen=True)
class InverseSqrt(Schedule):
    """Inverse square root (arXiv 1706.03762): after a warmup of ``W`` steps,
    ``m = sqrt(W / max(t, W))``. Anytime: it needs no budget, only a warmup.

    >>> from budgetlr import schedule
    >>> anytime = schedule("inverse_sqrt(warmup_steps=20)", 100)
    >>> [round(anytime.multiplier(t), 4) for t in (0, 20, 80, 500)]
    [0.0476, 1.0, 0.5, 0.2]
    """

    name = "inverse_sqrt"
    paper = "1706.03762"

    def validate(self, total_steps: int) -> None:
        super().validate(total_steps)
        if self.resolve_warmup(total_steps) == 0:
            raise InvalidInput("inverse_sqrt needs a warmup: give warmup or warmup_steps")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        xp = namespace(t)
        return xp.sqrt(warmup_steps / xp.maximum(t, warmup_steps))

    def is_budgeted(self) -> bool:
        return False
