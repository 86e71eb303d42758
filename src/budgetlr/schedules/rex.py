from __future__ import annotations

from dataclasses import dataclass

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, progress
from budgetlr.schedules.registry import register


@register
@dataclass(frozen=True)
class REX(Schedule):
    """REX, reflected exponential (arXiv 2107.04197, MLSys 2022): ``m = (1 - p) / (1 - beta p)``.

    ``beta = 0.5`` is the paper's schedule, ``(1 - p) / (1 - p/2)``. The variant that circulates
    under the same name, ``z / (0.1 + 0.9 z)`` with ``z = 1 - p``, is ``beta = 0.9``.
    ``beta = 0`` is linear decay.

    init2winit's generalized REX also has a ``beta``, but it means something else: its schedule
    is ``(1 - p) / (1 - (1 - beta) p)``, so its ``beta`` is ``1 - beta`` here (its ``beta = 1`` is
    linear decay, ``beta = 0`` here). Do not carry a ``beta`` over between the two.

    >>> from budgetlr import schedule
    >>> [round(float(m), 4) for m in schedule("rex(beta=0.9, warmup_steps=10)", 100).multiplier([0, 10, 55, 100])]
    [0.0909, 1.0, 0.9091, 0.0]
    """

    name = "rex"
    paper = "2107.04197"

    beta: float = 0.5

    def check(self) -> None:
        if not 0.0 <= self.beta < 1.0:
            raise InvalidInput(f"beta={self.beta!r} must lie in [0, 1)")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        p = progress(t, total_steps, warmup_steps)
        return (1.0 - p) / (1.0 - self.beta * p)
