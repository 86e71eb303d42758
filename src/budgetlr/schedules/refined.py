from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from budgetlr.schedules.array import load_array
from budgetlr.schedules.base import FloatArray, Schedule, interpolate
from budgetlr.schedules.registry import register

OPTIMIZERS = {"sgd": 2.0, "adam": 1.0}


def median_smooth(values: FloatArray, width: int) -> FloatArray:
    """Running median over an odd ``width``, edges extended by reflection (``d c b a | a b c d``)."""
    if width <= 1:
        return values
    padded = np.pad(values, width // 2, mode="symmetric")
    return np.median(sliding_window_view(padded, width), axis=1)


def refine(norms: ArrayLike, optimizer: str = "sgd", smoothing: float = 0.1) -> FloatArray:
    """A schedule refined from the per-step gradient norms ``g_1..g_T`` of a previous run
    (arXiv 2310.07831, Defazio et al.).

    1. smooth ``g`` with a running median ``smoothing * T`` wide (rounded, made odd; 0 disables);
    2. weights ``w_t = g_t^-2`` for SGD, ``w_t = g_t^-1`` for Adam-type optimizers (record l1 norms
       for those);
    3. ``s_t = w_t * sum_{k > t} w_k``, so ``s_T = 0``; 4. return ``s / max(s)``.
    """
    g = np.asarray(norms, dtype=np.float64)
    if g.ndim != 1 or g.size < 2 or not (np.isfinite(g).all() and (g > 0).all()):
        raise ValueError("refine needs at least 2 gradient norms, all finite and > 0")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r} is unknown; valid: {', '.join(OPTIMIZERS)}")
    width = round(smoothing * g.size)
    g = median_smooth(g, width + 1 - width % 2)
    w = g ** -OPTIMIZERS[optimizer]
    later = np.cumsum(w[::-1])[::-1] - w
    s = w * later
    return s / s.max()


@register
@dataclass(frozen=True)
class Refined(Schedule):
    """Refinement of a previous run's gradient norms (arXiv 2310.07831): see :func:`refine`.

    The norms come from ``norms=[...]`` or ``file=PATH`` (``.npy``, or text with one number per
    line or comma-separated), recorded over a run of the same budget. The refined values
    ``s_0..s_{n-1}`` sit on progress ``p = k / (n - 1)`` and are interpolated linearly, so the
    curve fits any budget and ends at 0 at ``T``. Often a warmup emerges by itself.
    """

    name = "refined"
    paper = "2310.07831"

    norms: tuple[float, ...] | None = None
    file: str | None = None
    optimizer: str = "sgd"
    smoothing: float = 0.1
    curve: FloatArray = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        if (self.norms is None) == (self.file is None):
            raise ValueError("refined needs exactly one of norms=[...] or file=PATH")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing={self.smoothing!r} must lie in [0, 1)")
        norms = self.norms if self.norms is not None else load_array(self.file, "gradient norms")
        object.__setattr__(self, "curve", refine(norms, self.optimizer, self.smoothing))

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        # Value k sits at progress k / (n - 1): index (t - W) (n - 1) / (T - W).
        span = self.curve.size - 1
        return interpolate((t - warmup_steps) * span / (total_steps - warmup_steps), self.curve)

    def is_monotone(self) -> bool:
        return False
