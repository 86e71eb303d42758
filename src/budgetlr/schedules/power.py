from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, cast

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, check_one_of, namespace
from budgetlr.schedules.registry import register
from budgetlr.schedules.shapes import OWN_SHAPES, check_shape, decay_shape


@register
@dataclass(frozen=True)
class Power(Schedule):
    """Power scheduler (arXiv 2408.13359): a function of the tokens seen, not of the budget.

    ``lr = min(lr_max, batch * a * n^b)`` with ``n = t * tokens_per_step`` the tokens seen before
    step ``t``; defaults ``a = 4``, ``b = -0.51``, ``lr_max = 0.02`` (the paper's muP settings).
    As a multiplier: ``m = min(1, batch * a * n^b / lr_max)``, so an optimizer LR equal to
    ``lr_max`` gives the paper's absolute LRs and any other scales the curve.

    Units (the paper does not pin them down; this is budgetlr's choice): ``batch`` is the number
    of sequences per optimizer step and ``tokens_per_step`` the tokens per optimizer step; both
    are required. Optional final decay over the last ``decay`` / ``decay_steps`` with ``shape``
    (default ``shifted-exp``, budgetlr's own shape; see :mod:`budgetlr.schedules.shapes`), for
    when a final model is wanted; without it the schedule is anytime.

    >>> from budgetlr import schedule
    >>> power = schedule("power(tokens_per_step=4096.0, batch=8.0, decay=0.1, warmup=0.05)", 100)
    >>> power.multiplier([0, 50, 95, 100]).round(4).tolist()
    [0.1667, 1.0, 0.0909, 0.0]
    """

    name = "power"
    paper = "2408.13359"
    extensions: ClassVar[dict[str, str]] = {"shape": f"the default shifted-exp: {OWN_SHAPES['shifted-exp']}"}

    tokens_per_step: float | None = None
    batch: float | None = None
    a: float = 4.0
    b: float = -0.51
    lr_max: float = 0.02
    decay: float | None = None
    decay_steps: int | None = None
    shape: str = "shifted-exp"

    def check(self) -> None:
        for key in ("tokens_per_step", "batch"):
            value = getattr(self, key)
            if value is None or value <= 0:
                raise InvalidInput(
                    f"power needs {key} > 0 (tokens_per_step: tokens per optimizer step; "
                    "batch: sequences per optimizer step)"
                )
        if self.a <= 0 or self.b >= 0 or self.lr_max <= 0:
            raise InvalidInput(
                f"power needs a > 0, b < 0, lr_max > 0; got a={self.a}, b={self.b}, lr_max={self.lr_max}"
            )
        check_one_of("decay", self.decay, self.decay_steps)
        check_shape(self.shape)

    def validate(self, total_steps: int) -> None:
        super().validate(total_steps)
        decay_steps = self.resolve_nonzero("decay", total_steps) if self.decay is not None else 0
        if self.resolve_warmup(total_steps) + decay_steps > total_steps:
            raise InvalidInput(f"power: warmup + decay exceed total_steps={total_steps}")

    def power_curve(self, t: FloatArray) -> FloatArray:
        # Step 0 has seen no tokens, where n^b is infinite and the cap applies anyway. In logs,
        # because batch * a and n can each overflow float64 where their product with n^b does not.
        xp = namespace(t)
        log_tokens = xp.log(xp.maximum(t, 1.0)) + math.log(cast(float, self.tokens_per_step))
        log_scale = math.log(cast(float, self.batch)) + math.log(self.a) - math.log(self.lr_max)
        return xp.exp(xp.minimum(0.0, log_scale + self.b * log_tokens))

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        decay_steps = self.resolve("decay", total_steps)
        if decay_steps == 0:
            return self.power_curve(t)
        decay_start = total_steps - decay_steps
        at_start = float(self.power_curve(np.array([float(decay_start)]))[0])
        decayed = at_start * decay_shape(self.shape, (t - decay_start) / decay_steps)
        return namespace(t).where(t < decay_start, self.power_curve(t), decayed)

    def reads_step_index(self) -> str | None:
        return "power counts the tokens seen as optimizer steps x tokens_per_step"

    def is_budgeted(self) -> bool:
        return self.decay is not None or bool(self.decay_steps)

    def peaks_at_warmup_end(self) -> bool:
        return False
