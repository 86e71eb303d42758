from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import ArrayLike

from budgetlr.errors import InvalidInput
from budgetlr.schedules.array import inline_or_file
from budgetlr.schedules.base import FloatArray, Schedule, interpolate
from budgetlr.schedules.registry import register

OPTIMIZERS = {"sgd": 2.0, "adam": 1.0}


def median_width(smoothing: float, count: int) -> int:
    """The running median's odd width for ``count`` norms: ``2 * (int(smoothing * count) // 2) + 1``,
    as the authors' code computes it (facebookresearch/adaptive_scheduling, ``visual.py``)."""
    return 2 * (int(smoothing * count) // 2) + 1


def median_smooth(values: FloatArray, width: int) -> FloatArray:
    """Running median over an odd ``width``, with the edges the authors' code gives it: the left
    end repeats the first value (``a a a | a b c``), the right end is a reflection without the edge
    value (``b c d | c b a``). Keeping the first value keeps large early norms, and with them the
    warmup that refinement lets emerge; reflecting the left end too would erase them."""
    if width <= 1:
        return values
    half = width // 2
    left = np.full(half, values[0])
    right = np.pad(values, (0, half), mode="reflect")[values.size :]
    padded = np.concatenate([left, values, right])
    return np.asarray(np.median(sliding_window_view(padded, width), axis=1), dtype=np.float64)


def refine(norms: ArrayLike, optimizer: str = "sgd", smoothing: float = 0.1) -> FloatArray:
    """A schedule refined from the per-step gradient norms ``g_1..g_T`` of a previous run
    (arXiv 2310.07831, Defazio et al.).

    1. smooth ``g`` with a running median as the authors' code does: :func:`median_width` wide
       (``int(smoothing * T)``, plus one if even; 0 disables it), edges as in :func:`median_smooth`;
    2. weights ``w_t = g_t^-2`` for SGD, ``w_t = g_t^-1`` for Adam-type optimizers (record l1 norms
       for those);
    3. ``s_t = w_t * sum_{k > t} w_k``, so ``s_T = 0``; 4. return ``s / max(s)`` (steps 2-4 are
       computed in logs, exact for any positive finite norms).

    Steps 2-4 are the authors' closed form (``find_schedule.py``). Their plotting script stretches
    shorter sequences to 10,000 points and takes the width from that count; here the width is the
    same fraction of the ``T`` norms given, with no resampling, so each recorded step keeps its value.

    >>> refine([4.0, 2.0, 1.0, 1.0, 1.0], smoothing=0).round(4).tolist()  # a warmup emerges
    [0.1016, 0.375, 1.0, 0.5, 0.0]
    """
    g = np.asarray(norms, dtype=np.float64)
    if g.ndim != 1 or g.size < 2 or not (np.isfinite(g).all() and (g > 0).all()):
        raise InvalidInput("refine needs at least 2 gradient norms, all finite and > 0")
    if optimizer not in OPTIMIZERS:
        raise InvalidInput(f"optimizer={optimizer!r} is unknown; valid: {', '.join(OPTIMIZERS)}")
    g = median_smooth(g, median_width(smoothing, g.size))
    # In logs, so that norms spanning hundreds of decades neither overflow nor underflow.
    log_w = -OPTIMIZERS[optimizer] * np.log(g)
    log_later = np.append(np.logaddexp.accumulate(log_w[::-1])[::-1][1:], -np.inf)
    log_s = log_w + log_later
    return np.asarray(np.exp(log_s - log_s.max()), dtype=np.float64)


@register
@dataclass(frozen=True)
class Refined(Schedule):
    """Refinement of a previous run's gradient norms (arXiv 2310.07831): see :func:`refine`.

    The norms come from ``norms=[...]`` or ``file=PATH`` (``.npy``, or text with one number per
    line or comma-separated; its content hash becomes ``sha256``, as for ``array``), recorded over
    a run of the same budget. The refined values
    ``s_0..s_{n-1}`` sit on progress ``p = k / (n - 1)`` and are interpolated linearly, so the
    curve fits any budget and ends at 0 at ``T``. Often a warmup emerges by itself.

    >>> from budgetlr import schedule
    >>> schedule("refined(norms=[4.0, 2.0, 1.0, 1.0, 1.0, 1.0], smoothing=0.0)", 6).curve().round(3).tolist()
    [0.089, 0.293, 0.778, 0.833, 0.556, 0.278, 0.0]
    """

    name = "refined"
    paper = "2310.07831"

    norms: tuple[float, ...] | None = None
    file: str | None = None
    sha256: str | None = None
    optimizer: str = "sgd"
    smoothing: float = 0.1
    curve: FloatArray = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        if (self.norms is None) == (self.file is None):
            raise InvalidInput("refined needs exactly one of norms=[...] or file=PATH")
        if not 0.0 <= self.smoothing < 1.0:
            raise InvalidInput(f"smoothing={self.smoothing!r} must lie in [0, 1)")
        norms = inline_or_file(self, self.norms, "gradient norms")
        object.__setattr__(self, "curve", refine(norms, self.optimizer, self.smoothing))

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        # Value k sits at progress k / (n - 1): index (t - W) (n - 1) / (T - W).
        span = self.curve.size - 1
        return interpolate((t - warmup_steps) * span / (total_steps - warmup_steps), self.curve)

    def is_monotone(self) -> bool:
        return False

    def peaks_at_warmup_end(self) -> bool:
        return False
