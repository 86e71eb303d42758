from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.anytime import geometric_ratio
from budgetlr.schedules.base import FloatArray, Schedule, check_one_of, namespace
from budgetlr.schedules.registry import register


@register
@dataclass(frozen=True)
class Infinite(Schedule):
    """Infinite schedule (arXiv 2503.02844; 2403.08763).

    Warmup to the peak; a cosine cooldown over ``C`` steps (``cooldown`` / ``cooldown_steps``,
    default 0.1 of ``T``) to ``const`` (a fraction of the peak); constant for as long as training
    goes on; over the last ``A`` steps (``anneal`` / ``anneal_steps``, default 0.1 of ``T``;
    ``anneal_steps=0`` never anneals) an exponential anneal to the floor,
    ``lr = const * (floor / const)^((t - t0) / A)`` with ``t0 = T - A``. The floor defaults to
    0.01 and must be > 0 when annealing (a geometric anneal never reaches 0).

    >>> from budgetlr import schedule
    >>> infinite = schedule("infinite(const=0.2, cooldown=0.2, anneal=0.2, warmup=0.05)", 100)
    >>> {t: round(infinite.multiplier(t), 4) for t in (5, 25, 60, 100)}
    {5: 1.0, 25: 0.2, 60: 0.2, 100: 0.01}
    """

    name = "infinite"
    paper = "2503.02844"
    default_fractions: ClassVar[dict[str, float]] = {"cooldown": 0.1, "anneal": 0.1}

    const: float = 0.125
    cooldown: float | None = None
    cooldown_steps: int | None = None
    anneal: float | None = None
    anneal_steps: int | None = None
    floor: float = 0.01

    def check(self) -> None:
        check_one_of("cooldown", self.cooldown, self.cooldown_steps)
        check_one_of("anneal", self.anneal, self.anneal_steps)
        if not self.floor < self.const <= 1.0:
            raise InvalidInput(f"const={self.const!r} must lie in (floor={self.floor!r}, 1]")
        if self.floor <= 0:
            raise InvalidInput("infinite anneals geometrically and never reaches floor=0: give floor > 0")

    def validate(self, total_steps: int) -> None:
        super().validate(total_steps)
        warmup, cooldown = self.resolve_warmup(total_steps), self.resolve("cooldown", total_steps)
        anneal = self.resolve_nonzero("anneal", total_steps)
        if cooldown < 1 or warmup + cooldown + anneal > total_steps:
            raise InvalidInput(
                f"infinite needs cooldown >= 1 step and warmup + cooldown + anneal <= total_steps; "
                f"got {warmup} + {cooldown} + {anneal} > {total_steps}"
            )

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        cooldown = self.resolve("cooldown", total_steps)
        anneal = self.resolve("anneal", total_steps)
        xp = namespace(t)
        x = xp.clip((t - warmup_steps) / cooldown, 0.0, 1.0)
        ratio = self.const + (1.0 - self.const) * 0.5 * (1.0 + xp.cos(np.pi * x))
        cooled = (ratio - self.floor) / (1.0 - self.floor)
        if anneal == 0:
            return cooled
        annealing = geometric_ratio((t - (total_steps - anneal)) / anneal, self.const, self.floor, self.floor)
        return xp.where(t > total_steps - anneal, annealing, cooled)

    def is_budgeted(self) -> bool:
        return self.anneal_steps != 0
