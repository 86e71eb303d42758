"""Decay shapes ``S(x)`` for a cooldown: ``x`` is progress through the decay, ``S(0) = 1``,
``S(1) = 0``, non-increasing in between.

Used by WSD (arXiv 2404.06395; shapes compared in arXiv 2405.18392, where ``1-sqrt`` is best),
the Power scheduler's final decay and :meth:`budgetlr.torch.BudgetScheduler.cooldown`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, namespace

#: ``exp`` decays geometrically by this factor over the decay, shifted so that it ends at 0.
EXP_SHAPE_RATIO = 0.01

SHAPES: dict[str, Callable[[FloatArray], FloatArray]] = {
    "linear": lambda x: 1.0 - x,
    "1-sqrt": lambda x: 1.0 - namespace(x).sqrt(x),
    "cosine": lambda x: 0.5 * (1.0 + namespace(x).cos(np.pi * x)),
    "square": lambda x: 1.0 - x**2,
    "exp": lambda x: (EXP_SHAPE_RATIO**x - EXP_SHAPE_RATIO) / (1.0 - EXP_SHAPE_RATIO),
}


def check_shape(shape: str) -> None:
    if shape not in SHAPES:
        raise InvalidInput(f"shape={shape!r} is unknown; valid shapes: {', '.join(SHAPES)}")


def decay_shape(shape: str, x: FloatArray) -> FloatArray:
    """``S(x)`` of the named shape, with ``x`` clipped to [0, 1]."""
    return SHAPES[shape](namespace(x).clip(x, 0.0, 1.0))
