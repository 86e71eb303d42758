"""The conventions where budgetlr differs from PyTorch, transformers and optax, stated by
`budgetlr list` and the integration pages, and the settings said to reproduce each library,
checked against the real libraries."""

import numpy as np
import optax
import pytest
import torch
from transformers import get_cosine_schedule_with_warmup

import budgetlr
from budgetlr.cli.schedules import format_families
from tests.helpers import float64_in_jax

T, W, PEAK = 50, 5, 0.1


def torch_lrs(make_scheduler, steps):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=PEAK)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return np.array(lrs)


def test_budgetlrs_warmup_ramp_is_torchs_linear_lr_from_one_over_w_plus_one():
    ramp = torch_lrs(
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / (W + 1), total_iters=W), 12
    )
    expected = budgetlr.schedule(f"constant(warmup_steps={W})", T).lr(np.arange(12), PEAK)
    np.testing.assert_allclose(ramp, expected, rtol=1e-12)
    assert expected[0] == pytest.approx(PEAK / (W + 1))


def test_budgetlrs_warmup_is_optaxs_linear_schedule_from_peak_over_w_plus_one():
    with float64_in_jax():  # float64 in optax too: the settings agree to 1e-12
        check_optax_warmup()


def check_optax_warmup():
    ramp = optax.linear_schedule(PEAK / (W + 1), PEAK, W)
    joined = optax.join_schedules([ramp, optax.cosine_decay_schedule(PEAK, T - W)], [W])
    got = np.array([float(joined(t)) for t in range(T + 3)])
    expected = budgetlr.schedule(f"cosine(warmup_steps={W})", T).lr(np.arange(T + 3), PEAK)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # optax's own warmup ramps t / W from 0: the curves differ only before step W.
    optax_own = optax.warmup_cosine_decay_schedule(0.0, PEAK, W, T)
    own = np.array([float(optax_own(t)) for t in range(T + 1)])
    assert own[0] == 0.0 and expected[0] == pytest.approx(PEAK / (W + 1))
    np.testing.assert_allclose(own[W:], expected[W : T + 1], rtol=1e-12, atol=1e-15)


def test_transformers_warmup_ramps_from_zero_and_the_curves_agree_from_step_w():
    hf = torch_lrs(lambda o: get_cosine_schedule_with_warmup(o, W, T), T + 1)
    expected = budgetlr.schedule(f"cosine(warmup_steps={W})", T).lr(np.arange(T + 1), PEAK)
    np.testing.assert_allclose(hf[:W], PEAK * np.arange(W) / W, rtol=1e-12)
    np.testing.assert_allclose(hf[W:], expected[W:], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_exponential_with_floor_0_is_exponential_lr_and_optax_exponential_decay(gamma):
    exact = budgetlr.schedule(f"exponential(gamma={gamma}, floor=0)", T).lr(np.arange(T), PEAK)
    np.testing.assert_allclose(torch_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma), T), exact, rtol=1e-12)  # fmt: skip
    with float64_in_jax():
        decay = optax.exponential_decay(PEAK, 1, gamma)
        np.testing.assert_allclose([float(decay(t)) for t in range(T)], exact, rtol=1e-12)
    # The family's default floor of 0.01 holds with gamma too: the curve is lifted, not clamped.
    lifted = budgetlr.schedule(f"exponential(gamma={gamma})", T).lr(np.arange(T), PEAK)
    np.testing.assert_allclose(lifted, PEAK * (0.01 + 0.99 * gamma ** np.arange(T)), rtol=1e-12)


def test_budgetlr_list_states_the_conventions_and_the_matching_settings():
    listing = format_families()
    for statement in ["(t + 1) / (W + 1)", "ramp t / W from 0", "LinearLR(start_factor=1 / (W + 1), total_iters=W)",
                      "optax.linear_schedule(peak / (W + 1), peak, W)", "exponential(gamma=0.99) is 0.01 + 0.99 * 0.99^t",
                      "exponential(gamma=0.99, floor=0) is ExponentialLR(gamma=0.99)"]:  # fmt: skip
        assert statement in listing
    assert "exponential(gamma=g, floor=0)" in listing  # in the family's own summary line
