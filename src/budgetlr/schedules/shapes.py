"""Decay shapes ``S(x)`` for a cooldown: ``x`` is progress through the decay, ``S(0) = 1``,
``S(1) = 0``, non-increasing in between.

Used by WSD (arXiv 2404.06395; shapes compared in arXiv 2405.18392, where ``1-sqrt`` is best),
the Power scheduler's final decay and :meth:`budgetlr.torch.BudgetScheduler.cooldown`.

``linear``, ``1-sqrt``, ``cosine`` and ``square`` are the published formulas of arXiv 2405.18392
(its authors' ``wsd_schedule``): their final-LR factor is budgetlr's ``floor``, since both give
``lr / peak = floor + (1 - floor) S(x)``. That paper's exponential form, ``lr / peak = f^x`` with
``f`` the final-LR factor, is no such ``S``: it changes shape with ``f`` and needs ``f > 0``.
``shifted-exp`` is budgetlr's own (see :data:`OWN_SHAPES`): a geometric decay by a fixed ratio,
shifted and rescaled to end at 0. With ``floor = 0.01`` it equals the published exponential
form with ``f = 0.01`` exactly; at any other floor it differs from it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, namespace

#: ``shifted-exp`` decays geometrically by this ratio over the decay, shifted so that it ends at 0.
SHIFTED_EXP_RATIO = 0.01

SHAPES: dict[str, Callable[[FloatArray], FloatArray]] = {
    "linear": lambda x: 1.0 - x,
    "1-sqrt": lambda x: 1.0 - namespace(x).sqrt(x),
    "cosine": lambda x: 0.5 * (1.0 + namespace(x).cos(np.pi * x)),
    "square": lambda x: 1.0 - x**2,
    "shifted-exp": lambda x: (SHIFTED_EXP_RATIO**x - SHIFTED_EXP_RATIO) / (1.0 - SHIFTED_EXP_RATIO),
}

#: The shapes that are budgetlr's own, not a published formula, with what they are.
OWN_SHAPES: dict[str, str] = {
    "shifted-exp": "(0.01^x - 0.01) / 0.99; equals arXiv 2405.18392's exponential form only at floor=0.01",
}


def check_shape(shape: str) -> None:
    if shape not in SHAPES:
        raise InvalidInput(f"shape={shape!r} is unknown; valid shapes: {', '.join(SHAPES)}")


def decay_shape(shape: str, x: FloatArray) -> FloatArray:
    """``S(x)`` of the named shape, with ``x`` clipped to [0, 1]."""
    return SHAPES[shape](namespace(x).clip(x, 0.0, 1.0))
