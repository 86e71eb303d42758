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
    (arXiv 2310.07831). Matches ``torch.optim.lr_scheduler.LinearLR(1.0, floor, T)``."""

    name = "linear"
    paper = "2310.07831"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 1.0 - progress(t, total_steps, warmup_steps)


@register
@dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine annealing (arXiv 1608.03983), ``m = (1 + cos(pi p)) / 2``.

    Matches ``torch.optim.lr_scheduler.CosineAnnealingLR(T_max=T, eta_min=floor * base_lr)``.
    """

    name = "cosine"
    paper = "1608.03983"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return 0.5 * (1.0 + namespace(t).cos(np.pi * progress(t, total_steps, warmup_steps)))


@register
@dataclass(frozen=True)
class Polynomial(Schedule):
    """Polynomial decay ``m = (1 - p)^power``; matches ``torch.optim.lr_scheduler.PolynomialLR``."""

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
    with milestones at ``ceil(fraction * T)``."""

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


@register
@dataclass(frozen=True)
class Constant(Schedule):
    """Constant ``m = 1`` after the warmup: the no-decay baseline."""

    name = "constant"

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        return namespace(t).ones_like(t)
