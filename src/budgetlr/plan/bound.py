"""The convex bound on a schedule's suboptimality, and the base LR that minimises it.

For multipliers ``s_1..s_T`` and base LR ``gamma`` (so ``eta_t = gamma s_t``), with ``D`` the
distance to the optimum and ``G`` the bound on gradients (Defazio et al., arXiv 2310.07831,
Theorem 10; as used by Schaipp et al., arXiv 2501.18965):
``bound(gamma) = t1 / gamma + gamma (t2 + t3)``, ``t1 = D^2 / (2 sum s)``,
``t2 = G^2 sum s^2 / (2 sum s)`` and
``t3 = 1/2 sum_{k<T} [s_k / sum_{t>k} s_t] [G^2 sum_{t>=k} s_t^2 / sum_{t>=k} s_t]``.
It is smallest at ``gamma* = sqrt(t1 / (t2 + t3))``, where it equals ``2 sqrt(t1 (t2 + t3))``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from budgetlr.errors import InvalidInput


@dataclass(frozen=True)
class TunedBound:
    """The base LR that minimises the bound, and the bound there."""

    base_lr: float
    bound: float


def tuned_bound(multipliers: ArrayLike, distance: float = 1.0, gradient_bound: float = 1.0) -> TunedBound:
    """The tuned base LR and bound of a schedule's multipliers, one per step.

    >>> result = tuned_bound(np.ones(100))
    >>> round(result.base_lr, 5), round(result.bound, 5)
    (0.04023, 0.24854)
    """
    if distance <= 0 or gradient_bound <= 0:
        raise InvalidInput("the convex bound needs a positive distance D and gradient bound G")
    a, b = bound_terms(multipliers)
    t1, t2_t3 = distance**2 * a, gradient_bound**2 * b
    return TunedBound(float(np.sqrt(t1 / t2_t3)), float(2 * np.sqrt(t1 * t2_t3)))


def bound_terms(multipliers: ArrayLike) -> tuple[float, float]:
    """``(a, b)`` with ``bound(gamma) = D^2 a / gamma + gamma G^2 b``: ``a = 1 / (2 sum s)`` and
    ``b = (t2 + t3) / G^2``."""
    s = np.asarray(multipliers, dtype=np.float64)
    if s.ndim != 1 or s.size == 0 or not np.isfinite(s).all() or (s < 0).any() or s.sum() <= 0:
        raise InvalidInput("the convex bound needs one or more finite, non-negative multipliers, not all 0")
    total = s.sum()
    from_k = np.cumsum(s[::-1])[::-1]  # sum_{t >= k} s_t
    squares_from_k = np.cumsum((s**2)[::-1])[::-1]
    after_k = from_k[1:]  # sum_{t > k} s_t, for k < T
    live = after_k > 0
    t3 = 0.5 * float(np.sum(s[:-1][live] / after_k[live] * squares_from_k[:-1][live] / from_k[:-1][live]))
    return float(1 / (2 * total)), float((s**2).sum() / (2 * total) + t3)
