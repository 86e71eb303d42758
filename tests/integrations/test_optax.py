"""optax / JAX: every family under jax.jit agrees with the numpy values, and drives optax."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import budgetlr
from budgetlr._extras import MissingExtra
from budgetlr.optax import schedule
from tests.conftest import EXAMPLES
from tests.helpers import hide_module


@pytest.mark.parametrize("spec", EXAMPLES.values())
def test_jitted_schedule_matches_numpy(spec):
    learning_rate = jax.jit(schedule(spec, 300, peak=0.5))
    steps = np.arange(330)
    expected = budgetlr.schedule(spec, 300).lr(steps, 0.5)
    np.testing.assert_allclose(np.asarray(learning_rate(jnp.asarray(steps))), expected, rtol=2e-6, atol=2e-7)
    assert float(learning_rate(jnp.int32(7))) == pytest.approx(expected[7], rel=2e-6, abs=2e-7)


def test_drives_an_optax_optimizer_step_by_step():
    learning_rate = schedule("cosine(warmup_steps=2)", 10, peak=0.1)
    optimizer = optax.sgd(learning_rate)
    params = jnp.zeros(())
    state = optimizer.init(params)

    @jax.jit
    def step(params, state):
        updates, state = optimizer.update(jnp.ones(()), state, params)  # gradient 1: the update is -lr
        return optax.apply_updates(params, updates), state

    moves = []
    for _ in range(12):
        new, state = step(params, state)
        moves.append(float(params - new))
        params = new
    expected = budgetlr.schedule("cosine(warmup_steps=2)", 10).lr(np.arange(12), 0.1)
    np.testing.assert_allclose(moves, expected, rtol=1e-5, atol=1e-7)


def test_bad_specs_fail_before_tracing():
    with pytest.raises(ValueError, match="unknown schedule 'cosin'"):
        schedule("cosin", 100)


def test_without_jax_the_error_is_one_line_naming_the_extra(monkeypatch):
    hide_module(monkeypatch, "jax")
    with pytest.raises(MissingExtra) as error:
        schedule("cosine", 100)
    assert str(error.value) == "budgetlr.optax needs jax: pip install 'budgetlr[jax]'"
