"""optax / JAX: a budgetlr schedule as ``step -> learning rate`` built from ``jax.numpy``
operations, for ``jax.jit`` and for optax's ``learning_rate`` argument.

    import optax
    from budgetlr.optax import schedule

    optimizer = optax.adamw(learning_rate=schedule("uba(phi=0.5, warmup=0.05)", 10_000, peak=3e-4))

The maths is the same code as the numpy schedules, run on ``jax.numpy`` (see
:func:`budgetlr.schedules.base.namespace`), in JAX's default float32.
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
    jnp = require("jax.numpy", "jax", "budgetlr.optax")
    bound = bind(spec, total_steps)
    floor = bound.spec.floor

    def learning_rate(step: Any) -> Any:
        t = jnp.asarray(step, dtype=jnp.float32)
        m = bound.spec.raw_multiplier(jnp.reshape(t, (-1,)), bound.total_steps)
        return peak * jnp.reshape(floor + (1.0 - floor) * m, jnp.shape(t))

    return learning_rate
