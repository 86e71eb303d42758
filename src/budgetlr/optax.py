"""optax / JAX: a budgetlr schedule as ``step -> learning rate`` built from ``jax.numpy``
operations, for ``jax.jit`` and for optax's ``learning_rate`` argument.

    import optax
    from budgetlr.optax import schedule

    optimizer = optax.adamw(learning_rate=schedule("uba(phi=0.5, warmup=0.05)", 10_000, peak=3e-4))

The maths is the same code as the numpy schedules, run on ``jax.numpy`` (see
:func:`budgetlr.schedules.base.namespace`), in JAX's default float32, or float64 with
``jax_enable_x64``. Every jump (a step decay's milestones, UBA's restarts, the end of warmup)
falls on a whole step computed before tracing, so under ``jax.jit`` the LR of every step is the
numpy one to float32 rounding, at every budget.

Conventions that differ from optax: the warmup ramps ``(t + 1) / (W + 1)``, where
``optax.warmup_cosine_decay_schedule`` ramps ``t / W`` from 0 (``optax.linear_schedule(peak / (W + 1),
peak, W)`` is budgetlr's ramp); ``exponential(gamma=g)`` keeps the family's default
``floor=0.01``, so ``exponential(gamma=g, floor=0)`` is ``optax.exponential_decay(peak, 1, g)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from budgetlr._extras import require
from budgetlr.schedules import Schedule
from budgetlr.schedules import schedule as bind


def schedule(
    spec: str | Mapping[str, Any] | Schedule, total_steps: int, peak: float = 1.0
) -> Callable[[Any], Any]:
    """``step -> peak * multiplier(step)`` in ``jax.numpy``; ``step`` may be a scalar or an array."""
    jax = require("jax", "jax", "budgetlr.optax")
    jnp = jax.numpy
    bound = bind(spec, total_steps)
    floor = bound.spec.floor

    def learning_rate(step: Any) -> Any:
        t = jnp.asarray(step, dtype=jax.dtypes.canonicalize_dtype(jnp.float64))
        m = bound.spec.raw_multiplier(jnp.reshape(t, (-1,)), bound.total_steps)
        return peak * jnp.reshape(floor + (1.0 - floor) * m, jnp.shape(t))

    return learning_rate
