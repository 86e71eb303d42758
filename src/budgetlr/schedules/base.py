"""The schedule base class: the conventions every family shares (docs/conventions.md).

* ``t`` is the 0-based optimizer step; ``lr(t)`` is the LR used by step ``t``; the budget ``T``
  (``total_steps``) is the number of optimizer steps; ``lr(T)`` is the value after the last step.
  A budgeted schedule holds ``lr(T)`` for ``t > T``: it never wraps around and never rises again.
* A schedule is a multiplier on each param group's own LR. The floor is reached by
  interpolation, never by clamping: ``lr = base_lr * (floor + (1 - floor) * m)``.
* Warmup counts inside ``T``, given as a fraction (``warmup``) or in steps (``warmup_steps``),
  never both. Its multiplier is ``(t + 1) / (W + 1)`` for ``t < W`` (step 0 does not waste a step
  at LR 0) times the schedule's value at ``W``, so ``lr(W)`` is exactly the peak. After warmup
  the schedule runs on progress ``p = (t - W) / (T - W)``.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from budgetlr.errors import InvalidInput
from budgetlr.spec import coerce, format_spec

FloatArray = NDArray[np.float64]


#: The largest budget: the schedules compute in float64, which counts every whole step (token,
#: sample) exactly up to 2^53 and no further.
MAX_STEPS = 2**53


def check_total_steps(total_steps: Any) -> int:
    """Return ``total_steps`` as an int, or raise if it is not a whole number in [1, 2^53]."""
    if isinstance(total_steps, bool) or not isinstance(total_steps, (int, np.integer)):
        raise InvalidInput(f"total_steps must be a positive whole number, got {total_steps!r}")
    if total_steps <= 0:
        raise InvalidInput(f"total_steps must be > 0, got {total_steps}")
    if total_steps > MAX_STEPS:
        raise InvalidInput(
            f"total_steps must be at most 2^53 = {MAX_STEPS:,} (float64 counts steps exactly up to it), got {total_steps:.4g}"
        )
    return int(total_steps)


def steps_from_fraction(fraction: float, total_steps: int) -> int:
    """Steps for a fraction of the budget: the nearest whole step, halves rounded up."""
    return math.floor(fraction * total_steps + 0.5)


def check_fraction(name: str, value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise InvalidInput(
            f"{name}={value!r} is a fraction of total_steps and must lie in (0, 1); "
            f"give {name}_steps for a count of steps"
        )


def check_one_of(name: str, fraction: float | None, steps: int | None) -> None:
    if fraction is not None and steps is not None:
        raise InvalidInput(
            f"give either {name}={fraction!r} (fraction of total_steps) or {name}_steps={steps!r}, not both"
        )
    check_fraction(name, fraction)
    if steps is not None and steps < 0:
        raise InvalidInput(f"{name}_steps must be >= 0, got {steps}")


class ArrayNamespace(Protocol):
    """What the schedules' maths calls of numpy or ``jax.numpy``, typed as the numpy arrays
    it returns under numpy (under ``jax.jit`` they are JAX arrays of the same shapes)."""

    def where(self, condition: Any, x: Any, y: Any, /) -> FloatArray: ...
    def clip(self, a: Any, a_min: Any, a_max: Any, /) -> FloatArray: ...
    def minimum(self, x: Any, y: Any, /) -> FloatArray: ...
    def maximum(self, x: Any, y: Any, /) -> FloatArray: ...
    def floor(self, x: Any, /) -> FloatArray: ...
    def cos(self, x: Any, /) -> FloatArray: ...
    def sqrt(self, x: Any, /) -> FloatArray: ...
    def exp(self, x: Any, /) -> FloatArray: ...
    def log(self, x: Any, /) -> FloatArray: ...
    def full_like(self, a: Any, fill_value: Any, /) -> FloatArray: ...
    def ones_like(self, a: Any, /) -> FloatArray: ...
    def asarray(self, a: Any, dtype: Any = None) -> FloatArray: ...
    def searchsorted(self, a: Any, v: Any, side: str = "left") -> NDArray[np.intp]: ...


def namespace(x: Any) -> ArrayNamespace:
    """``numpy``, or ``jax.numpy`` for JAX arrays and tracers: each schedule's maths is written
    once, against this namespace, and runs under numpy or under ``jax.jit``."""
    if type(x).__module__.startswith("jax"):
        import jax.numpy

        return cast(ArrayNamespace, jax.numpy)
    return cast(ArrayNamespace, np)


def progress(t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
    """Progress ``p = (t - W) / (T - W)`` clipped to [0, 1]."""
    return namespace(t).clip((t - warmup_steps) / (total_steps - warmup_steps), 0.0, 1.0)


def first_steps(value: Callable[[FloatArray], FloatArray], targets: ArrayLike, span: int) -> list[int]:
    """For each target, the first whole step ``k`` in ``0..span`` at which the non-decreasing
    ``value(k)`` reaches it (``span + 1`` if none), ``value`` computed in float64 as the numpy
    maths does; one vectorised binary search for all targets. A jump placed on a whole step is
    decided by ``t >= k``, exact in any precision; one decided on a float progress is not: under
    ``jax.jit`` XLA turns a division by ``T`` into a float32 multiplication by ``1 / T`` and can
    land just short of the jump."""
    goal = np.atleast_1d(np.asarray(targets, dtype=np.float64))
    low, high = np.zeros(goal.shape, dtype=np.int64), np.full(goal.shape, span + 1, dtype=np.int64)
    while (low < high).any():
        middle = (low + high) // 2
        reached = value(middle.astype(np.float64)) >= goal
        low, high = np.where(reached, low, middle + 1), np.where(reached, middle, high)
    return [int(k) for k in low]


def count_reached(t: FloatArray, boundaries: list[int]) -> NDArray[np.intp]:
    """How many of ``boundaries`` (whole steps, increasing) each step ``t`` has reached."""
    xp = namespace(t)
    return xp.searchsorted(xp.asarray(boundaries, dtype=t.dtype), t, side="right")


def interpolate(position: FloatArray, values: FloatArray) -> FloatArray:
    """``values`` at the fractional index ``position``, linear between neighbours, the ends held:
    ``numpy.interp`` on the grid ``0, 1, ..., n - 1``, in a form that compiles several times
    faster under ``jax.jit``."""
    xp = namespace(position)
    last = values.size - 1
    if last == 0:
        return xp.full_like(position, values[0])
    position = xp.clip(position, 0.0, last)
    left = xp.minimum(xp.floor(position), last - 1)
    index, table, right = left.astype(int), xp.asarray(values), position - left
    interpolated: FloatArray = table[index] * (1.0 - right) + table[index + 1] * right
    return interpolated  # exact at both neighbours


@dataclass(frozen=True)
class Schedule:
    """Base of every schedule family: warmup, floor, validation and the spec string.

    Subclasses set ``name`` and ``paper`` and implement :meth:`after_warmup`, the multiplier for
    steps ``t >= W`` before the floor is applied.
    """

    name: ClassVar[str] = ""
    paper: ClassVar[str] = ""
    #: Fractions of ``total_steps`` that apply when neither ``key`` nor ``key_steps`` is given.
    default_fractions: ClassVar[dict[str, float]] = {}
    #: Keys that may be ``auto`` (measured, not given), with where that measurement happens.
    measured: ClassVar[dict[str, str]] = {}
    #: budgetlr's own additions to the family's sources, by key, with what they are.
    extensions: ClassVar[dict[str, str]] = {}
    warmup: float | None = None
    warmup_steps: int | None = None
    floor: float = 0.0

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in spec_fields(self):
            value = coerce(field.name, getattr(self, field.name), hints[field.name])
            object.__setattr__(self, field.name, value)
        check_one_of("warmup", self.warmup, self.warmup_steps)
        if not 0.0 <= self.floor < 1.0:
            raise InvalidInput(f"floor={self.floor!r} is a fraction of the peak LR and must lie in [0, 1)")
        self.check()

    def reads_step_index(self) -> str | None:
        """What makes this spec read the optimizer-step index itself, not only progress through the
        budget (so it cannot follow a budget counted in tokens or samples), or None."""
        return None

    def check(self) -> None:
        """Family-specific checks of the keys, run on construction."""

    # -- the maths -------------------------------------------------------------------------
    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        """Multiplier ``m`` for steps ``t >= warmup_steps``, before the floor."""
        raise NotImplementedError

    def raw_multiplier(self, t: FloatArray, total_steps: int) -> FloatArray:
        """Multiplier before the floor: the warmup ramp, then :meth:`after_warmup`."""
        xp = namespace(t)
        warmup_steps = self.resolve_warmup(total_steps)
        if self.is_budgeted():
            t = xp.minimum(t, total_steps)
        after = self.after_warmup(xp.maximum(t, warmup_steps), total_steps, warmup_steps)
        if warmup_steps == 0:
            return after
        at_peak = float(self.after_warmup(np.array([float(warmup_steps)]), total_steps, warmup_steps)[0])
        ramp = (t + 1.0) / (warmup_steps + 1.0) * at_peak
        return xp.where(t < warmup_steps, ramp, after)

    def multiplier(self, t: ArrayLike, total_steps: int) -> Any:
        """``lr(t) / base_lr`` at step(s) ``t`` under budget ``total_steps``, floor included.

        ``t`` may be a scalar (a float is returned) or an array of steps (an array is returned).
        """
        total_steps = check_total_steps(total_steps)
        self.validate(total_steps)
        steps = np.asarray(t, dtype=np.float64)
        if steps.size and not (np.isfinite(steps).all() and steps.min() >= 0):
            raise InvalidInput("steps t must be finite and >= 0")
        m = self.floor + (1.0 - self.floor) * self.raw_multiplier(np.atleast_1d(steps), total_steps)
        return float(m[0]) if steps.ndim == 0 else m.reshape(steps.shape)

    def lr(self, t: ArrayLike, total_steps: int, peak: float) -> Any:
        """The learning rate ``peak * multiplier(t, total_steps)``."""
        return peak * self.multiplier(t, total_steps)

    # -- budget resolution and validation --------------------------------------------------
    def resolve(self, key: str, total_steps: int) -> int:
        """Steps of the ``key`` / ``key_steps`` pair under budget ``total_steps``."""
        fraction = getattr(self, key)
        steps = getattr(self, f"{key}_steps")
        if steps is not None:
            return int(steps)
        if fraction is None:
            fraction = self.default_fractions.get(key)
        return 0 if fraction is None else steps_from_fraction(fraction, total_steps)

    def resolve_nonzero(self, key: str, total_steps: int) -> int:
        """Like :meth:`resolve`, but a fraction that rounds to 0 steps is an error, not a no-op."""
        steps = self.resolve(key, total_steps)
        if steps == 0 and getattr(self, f"{key}_steps") is None:
            raise InvalidInput(
                f"{key} rounds to 0 steps at total_steps={total_steps}; give {key}_steps=0 to turn it off"
            )
        return steps

    def resolve_warmup(self, total_steps: int) -> int:
        return self.resolve("warmup", total_steps)

    def warmup_end(self, total_steps: int) -> int:
        """The first step at which the multiplier reaches the peak (1 before the floor)."""
        return self.resolve_warmup(total_steps)

    def validate(self, total_steps: int) -> None:
        """Raise ``ValueError`` if this schedule cannot run under budget ``total_steps``."""
        warmup_steps = self.resolve_warmup(total_steps)
        if warmup_steps >= total_steps:
            raise InvalidInput(
                f"warmup of {warmup_steps} steps must be shorter than total_steps={total_steps}"
            )

    def is_monotone(self) -> bool:
        """True if the multiplier never rises after warmup."""
        return True

    def is_budgeted(self) -> bool:
        """True if the schedule holds its value at ``T`` for ``t > T`` (anytime ones go on)."""
        return True

    def peaks_at_warmup_end(self) -> bool:
        """True if the multiplier is exactly 1, the peak, at the end of the warmup."""
        return True

    def ends_at_floor(self) -> bool:
        """True if the multiplier at ``T`` is exactly the floor."""
        return self.is_budgeted()

    # -- spec strings ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The spec as a dict, ``{"name": ..., key: value}``, with only non-default keys."""
        out: dict[str, Any] = {"name": self.name}
        for field in spec_fields(self):
            value = getattr(self, field.name)
            if value != default_of(type(self), field.name):
                out[field.name] = list(value) if isinstance(value, tuple) else value
        return out

    def keys(self) -> dict[str, Any]:
        """:meth:`to_dict` without the name: the keys away from their defaults."""
        return {key: value for key, value in self.to_dict().items() if key != "name"}

    def __str__(self) -> str:
        return format_spec(self.name, self.keys())


COMMON_KEYS = ("warmup", "warmup_steps", "floor")


def spec_fields(schedule: Schedule | type[Schedule]) -> list[dataclasses.Field[Any]]:
    """The keys of the spec (not caches derived from them): the family's own, then the common."""
    fields = [field for field in dataclasses.fields(schedule) if field.init]
    return sorted(fields, key=lambda field: field.name in COMMON_KEYS)


def default_of(cls: type[Schedule], key: str) -> Any:
    return cls.__dataclass_fields__[key].default
