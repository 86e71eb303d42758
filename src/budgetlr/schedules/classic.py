"""The classic budgeted decays: linear, cosine, polynomial, step, and the constant schedule."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import cast

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, count_reached, first_steps, namespace, progress
from budgetlr.schedules.registry import register


@register
@dataclass(frozen=True)
class Linear(Schedule):
    """Linear decay to zero, ``m = 1 - p``: the worst-case optimal last-iterate schedule
    (arXiv 2310.07831). Matches ``torch.optim.lr_scheduler.LinearLR(1.0, floor, T)``.

    >>> from budgetlr import schedule
    >>> schedule("linear(floor=0.1)", 10).curve(peak=0.5).round(3).tolist()
    [0.5, 0.455, 0.41, 0.365, 0.32, 0.275, 0.23, 0.185, 0.14, 0.095, 0.05]
    """

    name = "linear"
    paper = "2310.07831"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 1.0 - progress(t, total_steps, warmup_steps)


@register
@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing (arXiv 1608.03983), ``m = (1 + cos(pi p)) / 2``.

    Matches ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=floor * base_lr)``.

    >>> from budgetlr import schedule
    >>> cosine = schedule("cosine(warmup=0.1, floor=0.05)", 200)
    >>> round(cosine.lr(20, peak=3e-4), 8), round(cosine.lr(110, peak=3e-4), 8), round(cosine.lr(200, peak=3e-4), 8)
    (0.0003, 0.0001575, 1.5e-05)
    """

    name = "cosine"
    paper = "1608.03983"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 0.5 * (1.0 + namespace(t).cos(np.pi * progress(t, total_steps, warmup_steps)))


@register
@dataclass(frozen=True)
class Polynomial(Schedule):
    """Polynomial decay ``m = (1 - p)^power``; matches ``torch.optim.lr_scheduler.PolynomialLR``.

    >>> from budgetlr import schedule
    >>> schedule("polynomial(power=2.0)", 4).curve().tolist()
    [1.0, 0.5625, 0.25, 0.0625, 0.0]
    """

    name = "polynomial"

    power: float = 1.0

    def check(self) -> None:
        if self.power <= 0:
            raise InvalidInput(f"power={self.power!r} must be > 0")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return (1.0 - progress(t, total_steps, warmup_steps)) ** self.power


@register
@dataclass(frozen=True)
class Step(Schedule):
    """Step decay ``m = gamma^(milestones passed)``, milestones as fractions of the post-warmup
    budget (default the budgeted "30-60-90"). Matches ``torch.optim.lr_scheduler.MultiStepLR``
    with milestones at ``ceil(fraction * T)``.

    >>> from budgetlr import schedule
    >>> step = schedule("step(milestones=[0.5, 0.75], gamma=0.3)", 8)
    >>> step.curve().round(2).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.3, 0.3, 0.09, 0.09, 0.09]
    """

    name = "step"

    milestones: tuple[float, ...] = (0.3, 0.6, 0.9)
    gamma: float = 0.1

    def check(self) -> None:
        if not self.milestones or any(not 0.0 < m < 1.0 for m in self.milestones):
            raise InvalidInput(f"milestones={list(self.milestones)} must be fractions in (0, 1)")
        if any(b <= a for a, b in itertools.pairwise(self.milestones)):
            raise InvalidInput(f"milestones={list(self.milestones)} must be strictly increasing")
        if not 0.0 < self.gamma < 1.0:
            raise InvalidInput(f"gamma={self.gamma!r} must lie in (0, 1)")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        span = total_steps - warmup_steps
        at = [warmup_steps + k for k in first_steps(lambda k: k / span, self.milestones, span)]
        return cast(FloatArray, self.gamma ** count_reached(t, at))

    def ends_at_floor(self) -> bool:
        return False


@register
@dataclass(frozen=True)
class Constant(Schedule):
    """Constant ``m = 1`` after the warmup: the no-decay baseline.

    >>> from budgetlr import schedule
    >>> schedule("constant(warmup=0.05)", 20).curve().round(3).tolist()[:3]
    [0.5, 1.0, 1.0]
    """

    name = "constant"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return namespace(t).ones_like(t)

    def ends_at_floor(self) -> bool:
        return False
