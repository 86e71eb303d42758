"""The training loop: what a per-step check would record, read back from the device in batches."""

import math

import pytest
import torch

from budgetlr.bench.loop import train

STEPS = 10


def linear_problem(bad_step=None):
    """A linear model, its SGD optimizer and a batch stream whose target is inf at ``bad_step``."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    generator = torch.Generator().manual_seed(1)
    batches = []
    for step in range(STEPS):
        x, y = torch.randn(8, 3, generator=generator), torch.randn(8, 1, generator=generator)
        batches.append((x, y + math.inf if step == bad_step else y))
    return model, optimizer, batches


def mse(model, batch):
    x, y = batch
    return ((model(x) - y) ** 2).mean()


def reference(bad_step=None, lr=lambda i: 0.1):
    """The loop as written by hand: a check of every loss before its step, norms from torch."""
    model, optimizer, batches = linear_problem(bad_step)
    losses, l2, l1 = [], [], []
    for i, (x, y) in enumerate(batches):
        optimizer.param_groups[0]["lr"] = lr(i)
        loss = mse(model, (x, y))
        if not torch.isfinite(loss):
            break
        optimizer.zero_grad()
        loss.backward()
        grads = [p.grad for p in model.parameters()]
        l2.append(float(torch.nn.utils.get_total_norm(grads, 2.0)))
        l1.append(float(torch.nn.utils.get_total_norm(grads, 1.0)))
        optimizer.step()
        losses.append(float(loss.detach()))
    return losses, l2, l1


def test_losses_and_gradient_norms_are_those_of_a_per_step_loop():
    model, optimizer, batches = linear_problem()
    run = train(model, optimizer, mse, iter(batches), range(STEPS), norms=("l2", "l1"), check_every=4)
    losses, l2, l1 = reference()
    assert (run.steps, run.diverged) == (STEPS, False)
    assert run.losses == losses
    assert run.grad_norms == {"l2": l2, "l1": l1}


@pytest.mark.parametrize("bad_step", [4, 5, 9])
def test_a_non_finite_loss_cuts_the_run_where_a_per_step_check_would(bad_step):
    model, optimizer, batches = linear_problem(bad_step)
    evaluated = []
    run = train(
        model,
        optimizer,
        mse,
        iter(batches),
        range(100, 100 + STEPS),  # global step numbers: a segment of a longer run
        lr=lambda t: 0.001 * t,
        norms=("l2",),
        evaluate=lambda: evaluated.append(1) or 1.0,
        eval_every=3,
        check_every=4,
    )
    losses, l2, _ = reference(bad_step, lr=lambda i: 0.001 * (100 + i))
    assert (run.steps, run.diverged_at) == (bad_step, 100 + bad_step)
    assert (run.losses, run.grad_norms) == (losses, {"l2": l2})
    assert run.lrs == [0.001 * t for t in range(100, 100 + bad_step + 1)]  # the diverging step's too
    # Due after steps 102, 105 and 108 (global counts divisible by 3), each only if every loss
    # up to it was finite: the check before an evaluation catches step 104 diverging.
    assert [step for step, _ in run.evaluations] == [s for s in (102, 105, 108) if s <= 100 + bad_step]


def test_the_loop_reads_the_device_once_per_check_not_once_per_step(monkeypatch):
    reads = {"tolist": 0, "item": 0, "__float__": 0, "__bool__": 0}
    for name in reads:
        original = getattr(torch.Tensor, name)

        def counted(self, *args, _name=name, _original=original):
            reads[_name] += 1
            return _original(self, *args)

        monkeypatch.setattr(torch.Tensor, name, counted)
    model, optimizer, batches = linear_problem()
    train(model, optimizer, mse, iter(batches), range(STEPS), norms=("l2", "l1"), check_every=4)
    monkeypatch.undo()
    # Steps 0-3 and 4-7 at their checks, 8-9 at the end: a stack of losses and one per norm each.
    assert reads == {"tolist": 9, "item": 0, "__float__": 0, "__bool__": 0}


def test_training_and_evaluation_time_are_apart():
    model, optimizer, batches = linear_problem()

    def slow_evaluation():
        end = torch.zeros(1)
        for _ in range(20_000):
            end += 1
        return float(end)

    run = train(model, optimizer, mse, iter(batches), range(STEPS), evaluate=slow_evaluation, eval_every=2)
    assert [step for step, _ in run.evaluations] == [2, 4, 6, 8]
    assert run.eval_seconds > run.train_seconds > 0


def test_norms_are_those_of_torch_when_a_parameter_has_no_gradient_on_some_steps():
    """A branch (weight and bias) on even steps, a head (weight only) on odd steps: the steps'
    norms have 4 and 3 parts."""
    torch.manual_seed(0)
    trunk, branch = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    head = torch.nn.Linear(3, 1, bias=False)
    model = torch.nn.ModuleList([trunk, branch, head])
    batches = [(torch.randn(8, 3), torch.randn(8, 1)) for _ in range(STEPS)]
    step = {"t": 0}

    def loss(model, batch):
        x, y = batch
        out = (branch if step["t"] % 2 == 0 else head)(trunk(x))
        step["t"] += 1
        return ((out - y) ** 2).mean()

    expected = []
    reference_model = [torch.nn.Linear(3, 3), torch.nn.Linear(3, 1), torch.nn.Linear(3, 1, bias=False)]
    for mine, theirs in zip(reference_model, model, strict=True):
        mine.load_state_dict(theirs.state_dict())
    reference_optimizer = torch.optim.SGD([p for m in reference_model for p in m.parameters()], lr=0.1)
    for t, (x, y) in enumerate(batches):
        out = reference_model[1 if t % 2 == 0 else 2](reference_model[0](x))
        reference_optimizer.zero_grad(set_to_none=True)
        ((out - y) ** 2).mean().backward()
        grads = [p.grad for m in reference_model for p in m.parameters() if p.grad is not None]
        expected.append(float(torch.nn.utils.get_total_norm(grads, 2.0)))
        reference_optimizer.step()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    run = train(model, optimizer, loss, iter(batches), range(STEPS), norms=("l2",), check_every=4)
    assert run.grad_norms["l2"] == pytest.approx(expected, rel=1e-6)


def test_a_loss_ten_times_the_first_is_a_divergence():
    """SGD at lr 1.5 on the loss x^2 (gradient 2x): x is multiplied by -2 every step, so the
    loss by 4: 1, 4, 16 (over 10 times the first), and the run diverges at step 2."""
    x = torch.nn.Parameter(torch.ones(1))
    model = torch.nn.ParameterList([x])
    optimizer = torch.optim.SGD(model.parameters(), lr=1.5)
    run = train(model, optimizer, lambda m, _: (x**2).sum(), iter([(None, None)] * 6), range(6))
    assert (run.losses, run.diverged_at) == ([1.0, 4.0], 2)
    x.data.fill_(1.0)
    kept = train(
        model,
        optimizer,
        lambda m, _: (x**2).sum(),
        iter([(None, None)] * 6),
        range(6),
        divergence_factor=math.inf,
    )
    assert kept.losses == [4.0**k for k in range(6)] and not kept.diverged


def test_a_loss_without_a_positive_scale_never_diverges_by_the_factor():
    x = torch.nn.Parameter(torch.ones(1))
    optimizer = torch.optim.SGD([x], lr=0.5)
    run = train(
        torch.nn.ParameterList([x]),
        optimizer,
        lambda m, _: -(x**2).sum() - 1,
        iter([(None, None)] * 4),
        range(4),
    )
    assert run.losses == [-2.0, -5.0, -17.0, -65.0] and not run.diverged
