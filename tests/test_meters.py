"""Budgets in tokens, samples and seconds: parsing, the exact mapping of consumed amounts to the
schedule, and time budgets under a simulated clock (re-plans, the deadline, resume)."""

import datetime
import io
import math

import numpy as np
import pytest
import torch

import budgetlr
from budgetlr.schedules.budget import Budget
from budgetlr.torch import BudgetScheduler
from tests.conftest import EXAMPLES

PEAK = 0.1


def make(spec, total_steps=None, **kwargs):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=PEAK)
    return BudgetScheduler(optimizer, spec, total_steps, **kwargs)


def run(scheduler, steps, **consumed):
    lrs = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step(**consumed)
        lrs.append(scheduler.get_last_lr()[0])
    return lrs


def checkpoint(scheduler):
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [
        (10_000, 10_000, "steps"),
        ("10000 steps", 10_000, "steps"),
        ("2e9 tokens", 2_000_000_000, "tokens"),
        ("1_000_000 token", 1_000_000, "tokens"),
        ("50000 samples", 50_000, "samples"),
        ("5400s", 5400, "seconds"),
        ("0.5 seconds", 0.5, "seconds"),
        ("90 min", 5400, "seconds"),
        ("3h", 10_800, "seconds"),
        ("1.5 hours", 5400, "seconds"),
        ("2d", 172_800, "seconds"),
        ("1:30:00", 5400, "seconds"),
        ("01:02:03:04", 93_784, "seconds"),  # Lightning's DD:HH:MM:SS
        (datetime.timedelta(minutes=2), 120, "seconds"),
    ],
)
def test_parse(text, amount, unit):
    budget = Budget.parse(text)
    assert (budget.amount, budget.unit) == (amount, unit)
    assert Budget.parse(str(budget)) == budget


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2e9 bananas", "malformed budget '2e9 bananas'"),
        ("tokens", "malformed budget"),
        ("-5 tokens", "malformed budget"),
        ("0 tokens", "must be > 0"),
        ("1.5 steps", "whole number"),
        ("1e400 tokens", "finite"),
        (1.5, "a budget must be a whole number of steps or a string"),
        (True, "a budget must be a whole number of steps or a string"),
        (0, "must be > 0"),
    ],
)
def test_bad_budgets_are_refused_naming_the_value(value, message):
    with pytest.raises(ValueError, match=message):
        Budget.parse(value)


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ("rex(warmup_steps=10)", "warmup_steps"),
        ("wsd(decay_steps=100)", "decay_steps"),
        ("infinite(cooldown_steps=10, anneal=0.1)", "cooldown_steps"),
    ],
)
@pytest.mark.parametrize("budget", ["1e6 tokens", "500 samples", "1h"])
def test_options_in_steps_are_refused_unless_the_budget_is_in_steps(spec, key, budget):
    with pytest.raises(
        ValueError, match=rf"{key} counts optimizer steps, but the budget is .*; give .*=\.\.\. as a fraction"
    ):
        make(spec, budget=budget)
    assert make(spec, budget=1000).total_steps == 1000


def test_the_budget_is_given_once_and_amounts_match_its_unit():
    with pytest.raises(ValueError, match="give the budget once"):
        make("cosine", 100, budget="1h")
    with pytest.raises(ValueError, match="give the budget once"):
        make("cosine")
    with pytest.raises(ValueError, match=r"tokens= goes with a budget in tokens; .* 100 steps"):
        run(make("cosine", 100), 1, tokens=5)
    with pytest.raises(ValueError, match=r"tokens= goes with a budget in tokens; .* 100 samples"):
        run(make("cosine", budget="100 samples"), 1, tokens=5)
    with pytest.raises(ValueError, match=r"call scheduler.step\(tokens=n\)"):
        run(make("cosine", budget="100 tokens"), 1)
    with pytest.raises(ValueError, match="samples= must be > 0"):
        run(make("cosine", budget="100 samples"), 1, samples=0)
    with pytest.raises(ValueError, match="clock= goes with a budget in time"):
        make("cosine", 100, clock=lambda: 0.0)
    with pytest.raises(
        ValueError, match="per_step= goes with a budget in tokens or samples, not 3600 seconds"
    ):
        make("cosine", budget="1h", per_step=10)
    with pytest.raises(ValueError, match="tokens= must be > 0"):
        make("cosine", budget="1e6 tokens", per_step=-1)
    with pytest.raises(ValueError, match="rebudget and cooldown count optimizer steps"):
        make("cosine", budget="100 tokens").rebudget(200, "continue")


# Every registered family under every unit. Its specs give options as fractions of T that land on
# whole steps at T = 200 (so the step budget's rounding and the token budget's agree); options in
# steps are refused under other units (tested above). A spec that reads the optimizer-step index
# itself follows a budget in steps or time but refuses one in tokens or samples.
FOLLOWS_ANY_UNIT = {
    **{name: spec for name, spec in EXAMPLES.items() if "_steps" not in spec},
    "inverse_sqrt": "inverse_sqrt(warmup=0.1)",
    "rex": "rex(beta=0.9, warmup=0.05)",
}
READS_STEP_INDEX = {
    "onecycle": ["onecycle", "onecycle(warmup=0.25, div_factor=10.0)"],
    "power": [EXAMPLES["power"], "power(tokens_per_step=512.0, batch=4.0)"],
    "exponential": ["exponential(gamma=0.99)", "exponential(gamma=0.9, floor=0.0)"],
}
SAME_IN_ANY_UNIT = [spec for name, spec in FOLLOWS_ANY_UNIT.items() if name not in READS_STEP_INDEX]
ON_STEPS_ONLY = [spec for specs in READS_STEP_INDEX.values() for spec in specs]


def test_every_family_is_tested_under_every_unit():
    names = {budgetlr.schedules.parse(spec).name for spec in SAME_IN_ANY_UNIT + ON_STEPS_ONLY}
    assert names == set(budgetlr.schedules.FAMILIES)


@pytest.mark.parametrize("budget", ["1e6 tokens", "500 samples"])
@pytest.mark.parametrize("spec", ON_STEPS_ONLY)
def test_a_spec_that_reads_the_step_index_refuses_a_budget_in_tokens_or_samples(spec, budget):
    unit = budget.split()[1]
    with pytest.raises(ValueError, match=r"per optimizer step|step indices|as optimizer steps") as refused:
        make(spec, budget=budget)
    assert str(refused.value).endswith(f"give it a budget in steps or time, not {unit}")
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("spec", SAME_IN_ANY_UNIT + ON_STEPS_ONLY)
def test_a_steady_time_budget_is_the_step_budget_for_every_family(spec):
    # 0.5 s a step for 100 s plans 200 steps once the first step is measured; from the second step
    # on the LRs are the step budget's, and the last is the step budget's last.
    clock = Clock()
    scheduler = make(spec, budget="100s", clock=clock)
    lrs, plans = train_for_time(scheduler, clock, lambda step: 0.5)
    assert set(plans) == {200} and clock.now == 100.0
    expected = budgetlr.schedule(spec, 200).lr(np.arange(1, 201), PEAK)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-18)


@pytest.mark.parametrize("spec", SAME_IN_ANY_UNIT)
@pytest.mark.parametrize(("unit", "per_step"), [("tokens", 4096), ("samples", 24)])
def test_a_constant_amount_per_step_gives_the_step_budget(spec, unit, per_step):
    steps = budgetlr.schedule(spec, 200).lr(np.arange(221), PEAK)
    scheduler = make(spec, budget=f"{200 * per_step} {unit}", per_step=per_step)
    lrs = [scheduler.get_last_lr()[0], *run(scheduler, 220, **{unit: per_step})]
    np.testing.assert_allclose(lrs, steps, rtol=1e-12, atol=1e-18)
    assert scheduler.finished

    # Without per_step only the first step differs (in a warmup): from the second on, the
    # amounts are known.
    unknown = make(spec, budget=f"{200 * per_step} {unit}")
    assert run(unknown, 220, **{unit: per_step}) == pytest.approx(lrs[1:], rel=1e-12, abs=1e-18)


def test_without_per_step_the_first_step_of_a_warmup_counts_one_unit():
    # cosine(warmup=0.1, floor=0.05) over 200 steps of 24 samples: W = 480 samples, and the
    # first LR is 0.05 + 0.95 / (W + 1) of the peak, where the step budget has 0.05 + 0.95 / 21.
    unknown = make("cosine(warmup=0.1, floor=0.05)", budget="4800 samples")
    assert unknown.get_last_lr()[0] == pytest.approx(PEAK * (0.05 + 0.95 / 481), rel=1e-12)
    known = make("cosine(warmup=0.1, floor=0.05)", budget="4800 samples", per_step=24)
    assert known.get_last_lr()[0] == pytest.approx(PEAK * (0.05 + 0.95 / 21), rel=1e-12)


def test_with_a_batch_size_ramp_the_lr_follows_the_tokens_consumed():
    # cosine(warmup=0.1, floor=0.1) over N = 1e6 tokens, by hand: W = 1e5 tokens; a step of n
    # tokens at c consumed uses 0.1 + 0.9 (c + n) / (W + n) in the warmup (the floor is
    # interpolated, never clamped), then 0.1 + 0.9 (1 + cos(pi p)) / 2
    # with p = (c - W) / (N - W). Batches double every 40 steps from 1024 tokens.
    scheduler = make("cosine(warmup=0.1, floor=0.1)", budget="1e6 tokens")
    consumed, expected, got = 0, [], []
    while not scheduler.finished:
        n = 1024 * 2 ** min(scheduler.last_epoch // 40, 4)
        scheduler.optimizer.step()
        scheduler.step(tokens=n)
        consumed += n
        if consumed < 100_000:
            ratio = 0.1 + 0.9 * (consumed + n) / (100_000 + n)
        else:
            ratio = 0.1 + 0.9 * (1 + math.cos(math.pi * min((consumed - 100_000) / 900_000, 1.0))) / 2
        expected.append(PEAK * ratio)
        got.append(scheduler.get_last_lr()[0])
    assert got == pytest.approx(expected, rel=1e-12)
    assert got[-1] == pytest.approx(0.1 * PEAK, rel=1e-12)
    # 40 steps each of 1024, 2048, 4096 and 8192 tokens take 614,400; the other 385,600 take
    # 24 steps of 16,384, the last one past the budget.
    assert scheduler.last_epoch == 4 * 40 + 24


def test_a_token_budget_resumes_bit_for_bit():
    straight = make("uba(phi=0.5, warmup=0.05)", budget="1e5 tokens")
    expected = run(straight, 60, tokens=1000)
    first = make("uba(phi=0.5, warmup=0.05)", budget="1e5 tokens")
    before = run(first, 3, tokens=1000)  # inside the warmup: the ramp needs the last amount too
    resumed = make("uba(phi=0.5, warmup=0.05)", budget="1e5 tokens")
    resumed.load_state_dict(checkpoint(first))
    assert before + run(resumed, 57, tokens=1000) == expected
    with pytest.raises(ValueError, match="saved with budget 100000 tokens, this scheduler has 200000 tokens"):
        make("uba(phi=0.5, warmup=0.05)", budget="2e5 tokens").load_state_dict(checkpoint(first))
    with pytest.raises(ValueError, match="saved with a budget in tokens, this scheduler's is in steps"):
        make("uba(phi=0.5, warmup=0.05)", 100).load_state_dict(checkpoint(first))


class Clock:
    """Simulated time: each training step advances it by the current step duration."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def train_for_time(scheduler, clock, duration, until=None):
    """Step until the scheduler is finished (or ``until`` steps); ``duration(step)`` is the
    time the step takes. Returns the LR of each step after the first and the plans followed."""
    lrs, plans = [], []
    while not scheduler.finished and (until is None or scheduler.last_epoch < until):
        clock.now += duration(scheduler.last_epoch)
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
        plans.append(scheduler.total_steps)
    return lrs, plans


def slows_down_by_half(step):
    return 1.0 if step < 300 else 2.0  # throughput halves after 300 steps (of 1000 planned)


@pytest.mark.parametrize(
    "spec", ["cosine(warmup=0.05, floor=0.1)", "uba(phi=0.5)", "wsd(decay=0.2)", "linear"]
)
def test_a_time_budget_reaches_the_floor_at_the_deadline_despite_a_slowdown(spec):
    clock = Clock()
    scheduler = make(spec, budget="1000s", clock=clock)
    lrs, plans = train_for_time(scheduler, clock, slows_down_by_half)
    # 300 steps in 300 s, then 700 s at 2 s a step: 350 more, 650 in all.
    assert clock.now == 1000.0
    assert scheduler.last_epoch == scheduler.total_steps == 650
    floor = budgetlr.schedules.parse(spec).floor
    assert lrs[-1] == pytest.approx(PEAK * floor, abs=1e-15)
    assert sorted(set(plans))[-1] == 1000 and len(set(plans)) > 2  # planned 1000, re-planned down
    # Continuous: after the warmup the LR only falls, by no more than the steepest step of the
    # same family fitted to the 350 steps left after the slowdown (a `rescale` jumps by ~0.2 * PEAK).
    warmup = budgetlr.schedules.parse(spec).resolve_warmup(1000)
    drops = -np.diff(lrs[warmup:])
    steepest = (-np.diff(budgetlr.schedule(spec, 350).lr(np.arange(351), PEAK))).max()
    assert drops.min() >= -1e-15
    assert drops.max() <= 1.5 * steepest


def test_a_steady_time_budget_plans_once_and_is_the_step_budget():
    clock = Clock()
    scheduler = make("cosine(warmup=0.1)", budget="400s", clock=clock)
    lrs, plans = train_for_time(scheduler, clock, lambda step: 0.5)
    assert set(plans) == {800} and clock.now == 400.0
    expected = budgetlr.schedule("cosine(warmup=0.1)", 800).lr(np.arange(1, 801), PEAK)
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)


def test_a_time_budget_resumes_from_a_checkpoint_with_the_same_plan_and_clock():
    spec = "cosine(warmup=0.05, floor=0.1)"
    clock = Clock()
    straight = make(spec, budget="1000s", clock=clock)
    expected, expected_plans = train_for_time(straight, clock, slows_down_by_half)

    clock = Clock()
    first = make(spec, budget="1000s", clock=clock)
    before, plans = train_for_time(first, clock, slows_down_by_half, until=320)  # mid re-plans
    saved = checkpoint(first)
    assert saved["meter"]["elapsed"] == 340.0
    clock.now += 5000.0  # the time between a save and a resume does not count
    resumed = make(spec, budget="1000s", clock=clock)
    resumed.load_state_dict(saved)
    assert resumed.total_steps == first.total_steps != 1000
    after, after_plans = train_for_time(resumed, clock, slows_down_by_half)
    assert before + after == expected
    assert plans + after_plans == expected_plans
    assert clock.now - 5000.0 == 1000.0


def test_a_time_budget_changed_on_resume_is_taken_up_continuously():
    clock = Clock()
    first = make("linear", budget="100s", clock=clock)
    before, _ = train_for_time(first, clock, lambda step: 1.0, until=50)
    resumed = make("linear", budget="150s", clock=clock)
    resumed.load_state_dict(checkpoint(first))
    after, _ = train_for_time(resumed, clock, lambda step: 1.0)
    assert clock.now == 150.0 and resumed.total_steps == 150
    # Re-planned at step 50 (LR 0.5 of the peak) to end at step 150: linear from there.
    assert before[-1] == pytest.approx(0.5 * PEAK, rel=1e-12)
    assert after[0] == pytest.approx(0.5 * PEAK * 99 / 100, rel=1e-12)
    assert after[-1] == 0.0


def test_a_slow_first_step_plans_the_run_only_until_the_second_is_measured():
    # The first step also holds 50 s of setup; from the second on, 1 s a step: 949 more fit.
    clock = Clock()
    scheduler = make("linear", budget="1000s", clock=clock)
    _, plans = train_for_time(scheduler, clock, lambda step: 51.0 if step == 0 else 1.0)
    assert plans[:2] == [1 + 949 // 51, 2 + 948]
    assert set(plans[1:]) == {950} and clock.now == 1000.0


def test_a_slowdown_that_leaves_less_than_the_warmup_ends_in_a_cooldown_to_the_floor():
    # Planned 100 steps with a 50-step warmup; from step 10 a step takes 20 s, so 4 or 5 more fit,
    # fewer than the warmup: `continue` cannot re-fit it, and the rest decays from the current LR
    # (re-planned as a cooldown while the estimate catches up with the slowdown).
    clock = Clock()
    scheduler = make("cosine(warmup=0.5)", budget="100s", clock=clock)
    lrs, plans = train_for_time(scheduler, clock, lambda step: 1.0 if step < 10 else 20.0)
    assert plans[9] == 100 and plans[-1] == scheduler.last_epoch and plans[10] < 50
    assert lrs[9] == pytest.approx(PEAK * 11 / 51, rel=1e-12)  # the ramp (t + 1) / (W + 1) at step 10
    assert np.all(np.diff(lrs[9:]) < 0) and lrs[-1] == 0.0
    # The mean of the last 20 step durations lags a 20x slowdown: one step past the deadline.
    assert clock.now == 110.0


@pytest.mark.parametrize(
    "amount", [np.int64(512), np.float32(512.0), torch.tensor(512), torch.tensor(512.0), 512]
)
def test_a_step_consumes_numpy_and_0d_tensor_numbers(amount):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = BudgetScheduler(optimizer, "linear", budget="1024 tokens", per_step=512)
    optimizer.step()
    scheduler.step(tokens=amount)
    assert scheduler.get_last_lr() == [0.5]  # 512 of 1,024 tokens: half way down linear decay


@pytest.mark.parametrize(
    "amount",
    [torch.tensor([512]), np.array([512, 512]), "512", True, np.bool_(True), torch.tensor(float("nan"))],
)
def test_anything_but_one_number_is_refused_as_what_a_step_consumed(amount):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = BudgetScheduler(optimizer, "linear", budget="1024 tokens", per_step=512)
    with pytest.raises(
        ValueError, match=r"tokens= must be a number \(int, float, numpy number or 0-d tensor\)"
    ):
        scheduler.step(tokens=amount)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: budgetlr.schedule("step", 2**63 - 1),
            r"total_steps must be at most 2\^53 = 9,007,199,254,740,992",
        ),
        (lambda: budgetlr.schedule("step(warmup_steps=25)", 2**53 + 1), r"total_steps must be at most 2\^53"),
        (lambda: Budget.parse("1e308"), r"a budget must be at most 2\^53 = 9,007,199,254,740,992 steps"),
        (lambda: Budget.parse("1e20 tokens"), r"at most 2\^53 = 9,007,199,254,740,992 tokens"),
    ],
)
def test_counts_beyond_what_float64_counts_exactly_are_refused_naming_the_bound(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_the_largest_budget_is_taken():
    assert budgetlr.schedule("step(warmup_steps=25)", 2**53).multiplier(1001) == 1.0
    assert budgetlr.schedule("step", 2**53).multiplier(2**53) == pytest.approx(0.001)  # gamma^3
    assert Budget.parse(str(2**53)).amount == 2**53
