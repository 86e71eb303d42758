from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, check_one_of, namespace
from budgetlr.schedules.registry import register
from budgetlr.schedules.shapes import OWN_SHAPES, check_shape, decay_shape


@register
@dataclass(frozen=True)
class WSD(Schedule):
    """Warmup-stable-decay (arXiv 2404.06395; 2410.05192; cooldown shapes 2405.18392).

    ``m = 1`` until the last ``D`` steps, then ``m = S(x)`` with ``x = (t - (T - D)) / D`` the
    progress through the decay. ``D`` is ``decay`` (a fraction of ``T``, default 0.2) or
    ``decay_steps``. ``shape`` is one of ``linear``, ``1-sqrt`` (default; best in 2405.18392),
    ``cosine``, ``square`` (the published formulas, with the final-LR factor as ``floor``) or
    ``shifted-exp`` (budgetlr's own; see :mod:`budgetlr.schedules.shapes`).

    Reading several budgets off one run: a cooldown branch per budget decays from the stable run
    and ends there (:meth:`budgetlr.torch.BudgetScheduler.cooldown`); WSD-S (2410.05192) instead
    returns to the peak after each decay and trains on (``budgetlr wsd-s`` compares both).

    >>> from budgetlr import schedule
    >>> wsd = schedule("wsd(decay=0.2, shape=linear, warmup=0.05)", 100)
    >>> wsd.multiplier([79, 80, 90, 100]).tolist()
    [1.0, 1.0, 0.5, 0.0]
    """

    name = "wsd"
    paper = "2404.06395"
    default_fractions: ClassVar[dict[str, float]] = {"decay": 0.2}
    extensions: ClassVar[dict[str, str]] = {"shape": f"shifted-exp: {OWN_SHAPES['shifted-exp']}"}

    decay: float | None = None
    decay_steps: int | None = None
    shape: str = "1-sqrt"

    def check(self) -> None:
        check_one_of("decay", self.decay, self.decay_steps)
        check_shape(self.shape)

    def validate(self, total_steps: int) -> None:
        super().validate(total_steps)
        decay_steps = self.resolve("decay", total_steps)
        warmup_steps = self.resolve_warmup(total_steps)
        if decay_steps < 1 or warmup_steps + decay_steps > total_steps:
            raise InvalidInput(
                f"wsd needs 1 <= decay steps <= total_steps - warmup steps; got decay {decay_steps}, "
                f"warmup {warmup_steps}, total_steps {total_steps}"
            )

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        decay_steps = self.resolve("decay", total_steps)
        decay_start = total_steps - decay_steps
        x = (t - decay_start) / decay_steps
        return namespace(t).where(t < decay_start, 1.0, decay_shape(self.shape, x))
