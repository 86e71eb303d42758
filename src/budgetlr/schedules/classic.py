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
    >>> schedule("linear(floor=0.1)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [1.0, 0.775, 0.55, 0.1]
    """

    name = "linear"
    example = "linear(floor=0.1)"
    paper = "2310.07831"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 1.0 - progress(t, total_steps, warmup_steps)


@register
@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing (arXiv 1608.03983), ``m = (1 + cos(pi p)) / 2``.

    Matches ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=floor * base_lr)``.

    >>> from budgetlr import schedule
    >>> schedule("cosine(warmup=0.1, floor=0.05)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [0.1364, 0.9364, 0.6075, 0.05]
    """

    name = "cosine"
    example = "cosine(warmup=0.1, floor=0.05)"
    paper = "1608.03983"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 0.5 * (1.0 + namespace(t).cos(np.pi * progress(t, total_steps, warmup_steps)))


@register
@dataclass(frozen=True)
class Polynomial(Schedule):
    """Polynomial decay ``m = (1 - p)^power``; matches ``torch.optim.lr_scheduler.PolynomialLR``.

    >>> from budgetlr import schedule
    >>> schedule("polynomial(power=2.0)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [1.0, 0.5625, 0.25, 0.0]
    """

    name = "polynomial"
    example = "polynomial(power=2.0)"

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
    >>> schedule("step(milestones=[0.5, 0.75], gamma=0.3)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [1.0, 1.0, 0.3, 0.09]
    """

    name = "step"
    example = "step(milestones=[0.5, 0.75], gamma=0.3)"

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
    >>> schedule("constant(warmup=0.05)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [0.1667, 1.0, 1.0, 1.0]
    """

    name = "constant"
    example = "constant(warmup=0.05)"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return namespace(t).ones_like(t)

    def ends_at_floor(self) -> bool:
        return False
