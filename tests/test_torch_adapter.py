"""BudgetScheduler: param groups, bit-exact resume, the budget-mismatch refusal and the policies."""

import io

import numpy as np
import pytest
import torch

import budgetlr
from budgetlr.torch import BLOCK_STEPS, BudgetScheduler
from tests.conftest import EXAMPLES

LRS = (0.1, 0.003)


def make(spec, total_steps, **kwargs):
    weight, bias = torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([{"params": [weight], "lr": LRS[0]}, {"params": [bias], "lr": LRS[1]}])
    return BudgetScheduler(optimizer, spec, total_steps, **kwargs)


def advance(scheduler, steps):
    lrs = []
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(tuple(scheduler.get_last_lr()))
    return lrs


def checkpoint(scheduler):
    buffer = io.BytesIO()
    torch.save({"optimizer": scheduler.optimizer.state_dict(), "scheduler": scheduler.state_dict()}, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


def resume(spec, total_steps, saved, **kwargs):
    scheduler = make(spec, total_steps, **kwargs)
    scheduler.optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    return scheduler


def test_each_group_keeps_its_base_lr_and_follows_the_closed_form():
    scheduler = make("uba(phi=0.5, warmup=0.1)", 100)
    lrs = [tuple(scheduler.get_last_lr()), *advance(scheduler, 120)]
    curve = budgetlr.schedule("uba(phi=0.5, warmup=0.1)", 100).multiplier(np.arange(121))
    for group, base in enumerate(LRS):
        np.testing.assert_allclose([lr[group] for lr in lrs], base * curve, rtol=1e-15)
    assert [g["lr"] for g in scheduler.optimizer.param_groups] == list(lrs[-1])


@pytest.mark.parametrize("spec", EXAMPLES.values())
@pytest.mark.parametrize(("total_steps", "saved_at"), [(300, 1), (300, 137), (2500, BLOCK_STEPS + 7)])
def test_resume_is_bit_exact_for_every_family(spec, total_steps, saved_at):
    straight = make(spec, total_steps)
    expected = advance(straight, total_steps + 10)

    first = make(spec, total_steps)
    before = advance(first, saved_at)
    after = advance(resume(spec, total_steps, checkpoint(first)), total_steps + 10 - saved_at)
    assert before + after == expected


def test_resume_under_another_budget_is_refused_naming_both_values_and_the_policies():
    saved = checkpoint(make("cosine", 100))
    with pytest.raises(ValueError, match=r"total_steps=100 .* total_steps=200.* rescale, continue, cooldown"):
        resume("cosine", 200, saved)


def test_resume_with_another_schedule_is_refused():
    saved = checkpoint(make("cosine", 100))
    with pytest.raises(ValueError, match=r"saved with schedule cosine, this scheduler has linear"):
        resume("linear", 100, saved)


def test_rescale_jumps_to_the_new_curve_at_the_same_step():
    scheduler = make("cosine(warmup=0.1)", 1000)
    advance(scheduler, 400)
    scheduler.rebudget(2000, "rescale")
    new = budgetlr.schedule("cosine(warmup=0.1)", 2000)
    assert scheduler.get_last_lr()[0] == pytest.approx(LRS[0] * new.multiplier(400), rel=1e-15)
    assert [g["lr"] for g in scheduler.optimizer.param_groups] == scheduler.get_last_lr()
    lrs = advance(scheduler, 1700)
    np.testing.assert_allclose(
        [lr[0] for lr in lrs], LRS[0] * new.multiplier(np.arange(401, 2101)), rtol=1e-15
    )


@pytest.mark.parametrize("spec", ["cosine(warmup=0.1, floor=0.1)", "uba(phi=0.5)", "wsd", "linear", "step"])
@pytest.mark.parametrize("new_total", [500, 1600])
def test_continue_keeps_the_lr_continuous_and_ends_where_the_family_ends(spec, new_total):
    scheduler = make(spec, 1000)
    advance(scheduler, 400)
    before = scheduler.get_last_lr()
    scheduler.rebudget(new_total, "continue")
    assert scheduler.get_last_lr() == pytest.approx(before, rel=1e-12)
    lrs = np.array([lr[0] for lr in advance(scheduler, new_total - 400 + 20)])
    floor = LRS[0] * budgetlr.schedule(spec, new_total).multiplier(new_total)  # step ends at gamma^3
    at = {t: lrs[t - 401] for t in (new_total - 1, new_total)}  # lrs[i] is the LR of step 401 + i
    if spec != "step":  # the step schedule sits at its final value from its last milestone on
        assert at[new_total - 1] > floor
    assert at[new_total] == pytest.approx(floor, abs=1e-15)
    assert (lrs[new_total - 401 :] == at[new_total]).all()
    assert (np.diff(np.concatenate([[before[0]], lrs])) <= 1e-15).all()
    assert scheduler.total_steps == new_total


def test_continue_during_warmup_keeps_the_warmup_in_steps():
    scheduler = make("cosine(warmup=0.1)", 100)
    advance(scheduler, 5)
    scheduler.rebudget(1000, "continue")
    lrs = [lr[0] for lr in advance(scheduler, 5)]
    assert lrs == pytest.approx([LRS[0] * (t + 1) / 11 for t in range(6, 11)], rel=1e-12)


@pytest.mark.parametrize("shape", ["1-sqrt", "linear"])
def test_cooldown_decays_from_the_current_lr_to_the_floor_in_exactly_k_steps(shape):
    scheduler = make("constant(floor=0.1)", 10_000)
    advance(scheduler, 3000)
    scheduler.cooldown(400, shape=shape)
    assert scheduler.total_steps == 3400
    lrs = np.array([lr[0] for lr in advance(scheduler, 450)])
    x = np.arange(1, 451) / 400
    expected = 0.1 + 0.9 * budgetlr.schedules.SHAPES[shape](np.minimum(x, 1.0))
    np.testing.assert_allclose(lrs / LRS[0], expected, rtol=1e-12)
    assert lrs[398] > lrs[399] == pytest.approx(0.1 * LRS[0], rel=1e-15)


def test_cooldown_from_mid_decay_starts_at_the_current_lr():
    scheduler = make("uba(phi=0.5)", 1000)
    advance(scheduler, 600)
    current = scheduler.get_last_lr()
    scheduler.cooldown(100)
    assert scheduler.get_last_lr() == current
    assert advance(scheduler, 100)[-1] == (0.0, 0.0)


def test_resume_under_a_new_budget_with_a_policy():
    first = make("cosine", 1000)
    advance(first, 300)
    at_save = first.get_last_lr()
    saved = checkpoint(first)
    continued = resume("cosine", 2000, saved, on_budget_change="continue")
    assert continued.get_last_lr() == pytest.approx(at_save, rel=1e-12)
    assert advance(continued, 1700)[-1] == (0.0, 0.0)
    rescaled = resume("cosine", 2000, saved, on_budget_change="rescale")
    assert rescaled.get_last_lr()[0] == pytest.approx(
        LRS[0] * budgetlr.schedule("cosine", 2000).multiplier(300)
    )
    cooled = resume("cosine", 500, saved, on_budget_change="cooldown")
    assert cooled.get_last_lr() == at_save
    assert advance(cooled, 200)[-1] == (0.0, 0.0)


def test_a_rebudgeted_run_resumes_bit_exactly():
    scheduler = make("uba(phi=2, warmup=0.05)", 1000)
    advance(scheduler, 250)
    scheduler.rebudget(1500, "continue")
    advance(scheduler, 100)
    saved = checkpoint(scheduler)
    expected = advance(scheduler, 1200)
    assert advance(resume("uba(phi=2, warmup=0.05)", 1500, saved), 1200) == expected


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.rebudget(50, "continue"), r"new total_steps=50 must exceed the current step 60"),
        (lambda s: s.rebudget(500, "stretch"), r"unknown budget policy 'stretch'; valid policies: rescale"),
        (lambda s: s.rebudget(0, "rescale"), r"total_steps must be > 0"),
        (lambda s: s.cooldown(0), r"cooldown steps must be a whole number >= 1"),
        (lambda s: s.cooldown(10, shape="round"), r"shape='round' is unknown"),
    ],
)
def test_bad_budget_changes_are_refused_and_change_nothing(call, message):
    scheduler = make("cosine", 100)
    advance(scheduler, 60)
    before = (scheduler.get_last_lr(), scheduler.total_steps, scheduler.plan)
    with pytest.raises(ValueError, match=message):
        call(scheduler)
    assert (scheduler.get_last_lr(), scheduler.total_steps, scheduler.plan) == before


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="unknown budget policy"):
        make("cosine", 100, on_budget_change="keep")
    with pytest.raises(ValueError, match="warmup of 100 steps"):
        make("cosine(warmup_steps=100)", 100)


def snapshot(scheduler):
    """Everything a failed load must leave as it was: the scheduler's state and the optimizer's LRs."""
    return (
        scheduler.state_dict(),
        [group["lr"] for group in scheduler.optimizer.param_groups],
        scheduler._ratio(scheduler.last_epoch),
    )


def corrupted(saved, **changes):
    state = dict(saved["scheduler"])
    for key, value in changes.items():
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


@pytest.mark.parametrize(
    ("total_steps", "policy", "changes", "message"),
    [
        (30, "rescale", {}, r"checkpoint is at step 40, past this scheduler's total_steps=30"),
        (30, "continue", {}, r"checkpoint is at step 40, past this scheduler's total_steps=30"),
        (100, None, {"spec": None}, r"not a BudgetScheduler checkpoint: it lacks spec"),
        (100, None, {"plan": None, "_last_lr": None}, r"it lacks plan, _last_lr"),
        (100, None, {"base_lrs": [0.1]}, r"base_lrs has 1 entries, this optimizer has 2 param groups"),
        (100, None, {"_last_lr": [0.1, 0.2, 0.3]}, r"_last_lr has 3 entries, this optimizer has 2"),
        (100, None, {"base_lrs": [0.1, float("nan")]}, r"base_lrs must be finite numbers >= 0, got nan"),
        (100, None, {"last_epoch": -7}, r"last_epoch must be a whole number >= 0, got -7"),
        (
            100,
            None,
            {"plan": {"spec": "cosine", "total_steps": 100, "bogus": 1}},
            r"plan must be a dict of exactly",
        ),
    ],
)
def test_a_checkpoint_that_cannot_load_changes_nothing_and_says_why(total_steps, policy, changes, message):
    saved = checkpoint(advance_to(make("cosine", 100), 40))
    scheduler = make("cosine", total_steps, on_budget_change=policy)
    advance(scheduler, 5)
    before = snapshot(scheduler)
    with pytest.raises(ValueError, match=message):
        scheduler.load_state_dict(corrupted(saved, **changes))
    assert snapshot(scheduler) == before
    advance(scheduler, 1)  # and it still steps


def test_a_re_plan_that_fails_after_loading_is_undone():
    # 'continue' cannot re-plan a step schedule whose curve at the new budget is already at its end
    saved = checkpoint(advance_to(make("step(milestones=[0.5])", 100), 40))  # before the milestone: LR 1
    scheduler = make("step(milestones=[0.5])", 61, on_budget_change="continue")
    advance(scheduler, 3)
    before = snapshot(scheduler)
    with pytest.raises(ValueError, match="policy 'continue' cannot re-plan"):
        scheduler.load_state_dict(saved["scheduler"])
    assert snapshot(scheduler) == before


@pytest.mark.parametrize(
    ("lrs", "last_epoch", "message"),
    [
        ((-0.1, 0.1), -1, r"the optimizer's lr must be finite numbers >= 0, got -0.1"),
        ((float("nan"), 0.1), -1, r"got nan"),
        ((0.1, 0.1), -2, r"last_epoch must be a whole number >= -1, got -2"),
    ],
)
def test_bad_base_lrs_and_last_epoch_are_refused_when_constructed(lrs, last_epoch, message):
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs]
    with pytest.raises(ValueError, match=message):
        BudgetScheduler(torch.optim.SGD(groups), "cosine", 100, last_epoch=last_epoch)


def advance_to(scheduler, steps):
    advance(scheduler, steps)
    return scheduler


@pytest.mark.parametrize("change", ["rescale", "continue", "cooldown", "cooldown()"])
def test_a_tensor_lr_is_updated_in_place_by_steps_and_budget_changes(change):
    # Capturable and compiled optimizers read their LR tensor in place: it must stay that tensor.
    weight = torch.nn.Parameter(torch.zeros(2))
    optimizer = torch.optim.AdamW([weight], lr=torch.tensor(0.1), foreach=False)
    lr = optimizer.param_groups[0]["lr"]
    scheduler = BudgetScheduler(optimizer, "cosine(warmup=0.1)", 100)
    advance(scheduler, 40)
    if change == "cooldown()":
        scheduler.cooldown(30)
    else:
        scheduler.rebudget(70, change)
    assert optimizer.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(scheduler.get_last_lr()[0], rel=1e-6)
    new = budgetlr.schedule("cosine(warmup=0.1)", 70).lr(40, 0.1)
    if change == "rescale":
        assert lr.item() == pytest.approx(new, rel=1e-6)
    advance(scheduler, 35)
    assert optimizer.param_groups[0]["lr"] is lr
    assert lr.item() == pytest.approx(0.0, abs=1e-9)  # every policy ends at the floor by step 70
