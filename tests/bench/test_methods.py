"""The sweep's methods beyond the registry: schedule-free optimizers, refined and uba(phi=auto)."""

import pytest
import torch

from budgetlr.bench.methods import method, source_of
from budgetlr.bench.runner import TrialConfig, run_trial
from budgetlr.bench.sweep import make_plan
from budgetlr.errors import InvalidInput


@pytest.mark.parametrize(
    "spec, kind, canonical",
    [
        ("schedulefree", "schedulefree", "schedulefree"),
        ("schedulefree(warmup=0.050)", "schedulefree", "schedulefree(warmup=0.05)"),
        ("refined", "refined", "refined"),
        ("refined(smoothing=0.2)", "refined", "refined(smoothing=0.2)"),
        ("refined(smoothing=0.1)", "refined", "refined"),
        ("uba(phi=auto)", "auto", "uba(phi=auto)"),
        ("uba(warmup=0.05,phi=auto)", "auto", "uba(phi=auto, warmup=0.05)"),
        ("refined(norms=[1, 2])", "schedule", "refined(norms=[1.0, 2.0])"),
        ("cosine( warmup=0.1 )", "schedule", "cosine(warmup=0.1)"),
    ],
)
def test_methods_resolve_to_canonical_specs(spec, kind, canonical):
    resolved = method(spec)
    assert (resolved.kind, resolved.spec) == (kind, canonical)
    assert method(resolved.spec) == resolved


@pytest.mark.parametrize(
    "spec, message",
    [
        ("schedulefree(phi=1)", "constant has no key 'phi'"),
        ("refined(warmup=0.1)", "takes only smoothing"),
        ("refined(smoothing=2)", "smoothing=2.0 must lie in [0, 1)"),
        ("uba(phi=auto, beta=1)", "uba has no key 'beta'"),
    ],
)
def test_bad_method_specs_name_the_problem(spec, message):
    with pytest.raises(ValueError) as error:
        make_plan(["quadratic"], [spec], [0.1], [0])
    assert message in str(error.value)


def test_only_refined_trials_have_a_source():
    config = TrialConfig("quadratic", "refined", 0.5, 0.3, 4)
    assert source_of(config) == TrialConfig("quadratic", "linear(warmup=0.05)", 0.5, 0.3, 4)
    assert source_of(TrialConfig("quadratic", "cosine", 0.5, 0.3, 4)) is None


@pytest.mark.slow
def test_schedulefree_trains_with_the_schedule_free_optimizer_and_evaluates_its_average(monkeypatch):
    import schedulefree

    modes = []
    real_eval = schedulefree.SGDScheduleFree.eval

    def recording_eval(self):
        modes.append("eval")
        return real_eval(self)

    monkeypatch.setattr(schedulefree.SGDScheduleFree, "eval", recording_eval)
    result = run_trial(TrialConfig("quadratic", "schedulefree(warmup=0.1)", 0.05, 0.1, 0))
    # 100 steps: a validation before training, every 5 steps up to 95, then the final val and test
    assert result.status == "ok" and len(modes) == 1 + 19 + 2
    assert all(p.lr == 0.1 for p in result.curve)  # the optimizer warms up inside, its base LR stays
    constant = run_trial(TrialConfig("quadratic", "constant(warmup=0.1)", 0.05, 0.1, 0))
    assert result.test_metric != constant.test_metric


def test_schedulefree_follows_the_workloads_optimizer_kind():
    from budgetlr.bench.methods import make_optimizer
    from budgetlr.bench.workloads import resolve_workload

    for name, expected in (("quadratic", "SGDScheduleFree"), ("mnist1d-cnn", "AdamWScheduleFree")):
        workload = resolve_workload(name)
        model = torch.nn.Linear(2, 1)
        optimizer = make_optimizer(method("schedulefree(warmup=0.1)"), workload, model, 0.01, 100)
        assert type(optimizer).__name__ == expected
        assert optimizer.param_groups[0]["warmup_steps"] == 10


def test_schedulefree_takes_the_workloads_momentum_betas_and_weight_decay_not_its_own_defaults():
    from budgetlr.bench.methods import make_optimizer
    from budgetlr.bench.workloads import resolve_workload

    model = torch.nn.Linear(2, 1)
    free = method("schedulefree")
    # schedulefree's own defaults would be momentum 0.9 and weight decay 0: these are the workloads'
    sgd = make_optimizer(free, resolve_workload("digits-cnn"), model, 0.1, 100).param_groups[0]
    assert (sgd["momentum"], sgd["weight_decay"]) == (0.9, 5e-4)
    adamw = make_optimizer(free, resolve_workload("stdlib-gpt"), model, 0.1, 100).param_groups[0]
    assert (adamw["betas"], adamw["eps"], adamw["weight_decay"]) == ((0.9, 0.95), 1e-8, 0.1)


def test_a_workload_whose_optimizer_schedule_free_cannot_match_is_refused_before_the_sweep(tmp_path):
    from budgetlr.bench.sweep import make_plan

    # cifar-resnet's SGD uses Nesterov momentum, which schedule-free SGD has no counterpart of
    with pytest.raises(
        InvalidInput,
        match=r"schedulefree on cifar-resnet needs SGD with momentum in \(0, 1\), no dampening and no Nesterov",
    ):
        make_plan(["cifar-resnet"], ["cosine", "schedulefree"], [1.0], [0])
    assert make_plan(["cifar-resnet"], ["cosine"], [1.0], [0]).trials()
