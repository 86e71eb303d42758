from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from budgetlr.schedules.base import FloatArray, Schedule, interpolate
from budgetlr.schedules.registry import register


@register
@dataclass(frozen=True)
class Array(Schedule):
    """A recorded curve replayed: ``values[k]`` is the multiplier of step ``k`` of an ``n``-step run.

    The values come from ``values=[...]`` or ``file=PATH`` (``.npy``, or text with one number per
    line or comma-separated), e.g. the schedule that ``budgetlr pbt`` discovered or the one
    ``budgetlr refine`` derived. Step ``t`` of a ``T``-step run takes the value at the same progress
    ``t / T``, interpolated linearly, so at ``T = n`` the recorded steps replay exactly; ``lr(T)``
    holds the last value.
    """

    name = "array"
    paper = ""

    values: tuple[float, ...] | None = None
    file: str | None = None
    curve: FloatArray = field(init=False, repr=False, compare=False)

    def check(self) -> None:
        if (self.values is None) == (self.file is None):
            raise ValueError("array needs exactly one of values=[...] or file=PATH")
        values = np.asarray(self.values if self.values is not None else load_array(self.file, "multipliers"))
        if values.ndim != 1 or values.size == 0 or not (np.isfinite(values).all() and (values >= 0).all()):
            raise ValueError("array needs one or more multipliers, all finite and >= 0")
        object.__setattr__(self, "curve", values.astype(np.float64))

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        # Step k of the recording sits at progress k / n: index (t - W) n / (T - W), exact at T = n.
        return interpolate((t - warmup_steps) * self.curve.size / (total_steps - warmup_steps), self.curve)

    def is_monotone(self) -> bool:
        return bool((np.diff(self.curve) <= 0).all())


def load_array(path: str | None, what: str) -> FloatArray:
    """Numbers from ``path``: ``.npy``, or text with one number per line or comma-separated."""
    try:
        if str(path).endswith(".npy"):
            return np.load(str(path))
        text = Path(str(path)).read_text().replace(",", " ")
        return np.array([float(v) for v in text.split()])
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {what} from file={path!r}: {error}") from None
