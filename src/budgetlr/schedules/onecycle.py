from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, namespace
from budgetlr.schedules.registry import register


def cosine_between(start: float, end: float, pct: FloatArray) -> FloatArray:
    return end + (start - end) / 2.0 * (namespace(pct).cos(np.pi * pct) + 1.0)


@register
@dataclass(frozen=True)
class OneCycle(Schedule):
    """One-cycle policy (arXiv 1708.07120), exactly ``torch.optim.lr_scheduler.OneCycleLR`` with
    its defaults (two phases, cosine annealing): a cosine ramp from ``1 / div_factor`` up to 1,
    ending at step ``warmup * T - 1`` (torch's ``pct_start``; ``warmup`` defaults to 0.3, and
    ``warmup_steps=W`` ends it at ``W - 1``), then a cosine down to
    ``1 / (div_factor * final_div_factor)`` at step ``T - 1``, held afterwards.
    The warmup here is this ramp, not the common linear one.

    >>> from budgetlr import schedule
    >>> cycle = schedule("onecycle", 100)
    >>> round(cycle.multiplier(0), 4), round(cycle.multiplier(30), 4), round(cycle.multiplier(99), 8)
    (0.04, 0.9995, 4e-06)
    """

    name = "onecycle"
    paper = "1708.07120"
    default_fractions: ClassVar[dict[str, float]] = {"warmup": 0.3}

    div_factor: float = 25.0
    final_div_factor: float = 1e4

    def check(self) -> None:
        for key in ("div_factor", "final_div_factor"):
            if getattr(self, key) < 1.0:
                raise InvalidInput(f"{key}={getattr(self, key)!r} must be >= 1")

    def reads_step_index(self) -> str | None:
        return "onecycle is torch's OneCycleLR, whose phases end at optimizer-step indices"

    def ramp_end(self, total_steps: int) -> float:
        if self.warmup_steps is not None:
            return float(self.warmup_steps) - 1.0
        return float((self.warmup or self.default_fractions["warmup"]) * total_steps) - 1.0

    def validate(self, total_steps: int) -> None:
        if not 0.0 < self.ramp_end(total_steps) < total_steps - 1:
            raise InvalidInput(
                f"onecycle's warmup must end between step 0 and step {total_steps - 1} "
                f"(total_steps={total_steps}); it ends at {self.ramp_end(total_steps):g}"
            )

    def raw_multiplier(self, t: FloatArray, total_steps: int) -> FloatArray:
        xp = namespace(t)
        t = xp.minimum(t, total_steps - 1)
        end = self.ramp_end(total_steps)
        initial = 1.0 / self.div_factor
        up = cosine_between(initial, 1.0, t / end)
        down = cosine_between(1.0, initial / self.final_div_factor, (t - end) / (total_steps - 1 - end))
        return xp.where(t <= end, up, down)

    def warmup_end(self, total_steps: int) -> int:
        return int(np.ceil(self.ramp_end(total_steps)))

    def ends_at_floor(self) -> bool:
        return False

    def peaks_at_warmup_end(self) -> bool:
        return False
