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
from tests.helpers import float64_in_jax, hide_module

#: The two whose jumps fell on float progress (a step decay's milestones and UBA's restarts): under
#: jax.jit they once landed a step early or late at some budgets, so every budget up to 200 is tried,
#: and every fourth up to 400 (each budget compiles a subgraph: all 400 took 2 minutes of the suite).
ON_FLOAT_PROGRESS = ["step", "uba(phi=1, phases=3)"]
SPECS = [*EXAMPLES.values(), *ON_FLOAT_PROGRESS]
LARGE_BUDGETS = [1000, 4096, 10_007, 65_537]
#: The other families at every budget up to 64 and around powers of two: each jit compiles one
#: subgraph per budget, and 400 budgets of every family took 4 of the suite's 16 minutes.
SOME_BUDGETS = [*range(1, 65), 97, 127, 128, 129, 255, 256, 257, 399, 400, *LARGE_BUDGETS]
EVERY_BUDGET = [*range(1, 201), *range(201, 401, 4), 400, *LARGE_BUDGETS]


def budgets_of(spec):
    valid = []
    for total_steps in EVERY_BUDGET if spec in ON_FLOAT_PROGRESS else SOME_BUDGETS:
        try:
            budgetlr.schedule(spec, total_steps)
        except ValueError:  # e.g. a warmup of 20 steps needs a longer budget
            continue
        valid.append(total_steps)
    return valid


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS)
def test_jitted_schedule_matches_numpy_at_every_step_of_every_budget(spec):
    # One jit per chunk of budgets: each budget is a constant of its own subgraph, as in a user's
    # jitted train step, and chunking shares the compilation overhead.
    budgets = budgets_of(spec)
    steps = jnp.arange(max(budgets) + 3)
    for start in range(0, len(budgets), 100):
        chunk = budgets[start : start + 100]
        every = jax.jit(
            lambda steps, chunk=chunk: [schedule(spec, t, peak=0.5)(steps[: t + 3]) for t in chunk]
        )
        for total_steps, got in zip(chunk, every(steps), strict=True):
            expected = budgetlr.schedule(spec, total_steps).lr(np.arange(total_steps + 3), 0.5)
            np.testing.assert_allclose(
                np.asarray(got),
                expected,
                rtol=2e-6,
                atol=1e-6,
                err_msg=f"{spec} at total_steps={total_steps}",
            )


def test_the_reported_boundary_steps_under_jit():
    step = jax.jit(schedule("step", 100))
    assert [float(step(t)) for t in (29, 30, 59, 60)] == pytest.approx([1.0, 0.1, 0.1, 0.01], rel=1e-6)
    restarts = jax.jit(schedule("uba(phi=1, phases=3)", 123))
    assert [float(restarts(t)) for t in (41, 82)] == [1.0, 1.0]  # each phase restarts at the peak


def test_float64_under_x64():
    with float64_in_jax():
        learning_rate = jax.jit(schedule("cosine(warmup=0.1)", 1000, peak=0.5))
        got = learning_rate(jnp.arange(1001))
        assert got.dtype == jnp.float64
        expected = budgetlr.schedule("cosine(warmup=0.1)", 1000).lr(np.arange(1001), 0.5)
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-14, atol=1e-15)


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
