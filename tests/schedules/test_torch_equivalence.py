"""Step-by-step agreement with PyTorch's own schedulers where the settings coincide."""

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler

import budgetlr
from budgetlr.torch import BudgetScheduler

T = 1200
BASE_LR = 0.3


def optimizer():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE_LR)


def run(scheduler, steps):
    lrs = [scheduler.get_last_lr()[0]]
    for _ in range(steps):
        scheduler.optimizer.step()
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return np.array(lrs)


CASES = [
    ("cosine", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T), T),
    ("cosine(floor=0.1)", lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=T, eta_min=0.1 * BASE_LR), T),
    ("linear", lambda o: lr_scheduler.LinearLR(o, 1.0, 0.0, total_iters=T), T),
    ("linear(floor=0.25)", lambda o: lr_scheduler.LinearLR(o, 1.0, 0.25, total_iters=T), T),
    ("polynomial(power=2)", lambda o: lr_scheduler.PolynomialLR(o, total_iters=T, power=2.0), T),
    ("polynomial", lambda o: lr_scheduler.PolynomialLR(o, total_iters=T), T),
    ("step", lambda o: lr_scheduler.MultiStepLR(o, milestones=[360, 720, 1080], gamma=0.1), T),
    ("exponential(gamma=0.997, floor=0)", lambda o: lr_scheduler.ExponentialLR(o, gamma=0.997), T),
    ("onecycle", lambda o: lr_scheduler.OneCycleLR(o, max_lr=BASE_LR, total_steps=T), T - 1),
    (
        "onecycle(warmup=0.25)",
        lambda o: lr_scheduler.OneCycleLR(o, BASE_LR, total_steps=T, pct_start=0.25),
        T - 1,
    ),
]


@pytest.mark.parametrize(("spec", "make_torch", "steps"), CASES, ids=[c[0] for c in CASES])
def test_matches_torch_scheduler(spec, make_torch, steps):
    expected = run(make_torch(optimizer()), steps)
    assert len(expected) >= 1000
    np.testing.assert_allclose(
        run(BudgetScheduler(optimizer(), spec, T), steps), expected, rtol=1e-9, atol=1e-15
    )
    np.testing.assert_allclose(
        budgetlr.schedule(spec, T).lr(np.arange(steps + 1), BASE_LR), expected, rtol=1e-9, atol=1e-15
    )


def test_onecycle_holds_its_minimum_where_torch_would_raise():
    scheduler = BudgetScheduler(optimizer(), "onecycle", 100)
    lrs = run(scheduler, 120)
    assert lrs[99] == lrs[100] == lrs[120] == pytest.approx(BASE_LR / 25 / 1e4)
