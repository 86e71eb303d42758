"""The study suite has the shape its results page needs: enough seeds, a language model with the
schedules the claim names, and LRs at 4 budgets for the LR-transfer fit."""

import torch

from budgetlr.bench.methods import make_optimizer, method
from budgetlr.bench.runner import TRAIN_POINTS, budget_steps
from budgetlr.bench.suites import FAIR_CONTROLS, SUITES
from budgetlr.bench.sweep import make_plan
from budgetlr.bench.workloads import resolve_workload
from budgetlr.bench.workloads.gpt import Block


def plans(name):
    return [
        make_plan(p.workloads, p.schedules, p.budgets, p.seeds, grids=p.lrs) for p in SUITES[name].sweeps()
    ]


def test_the_study_has_8_seeds_on_the_cheap_workloads_and_a_language_model_with_4():
    cheap, lm, schedulefree_lm = plans("study")
    assert set(cheap.workloads) == {"quadratic", "quadratic(kappa=10000.0)", "mnist1d-cnn"}
    assert len(cheap.seeds) == 8 and len(cheap.budgets) == 4
    assert lm.workloads == ("stdlib-gpt",) and len(lm.seeds) == 4 and len(lm.budgets) == 4
    assert lm.lrs == {"stdlib-gpt": (0.00075, 0.0015, 0.003, 0.006, 0.012)}
    names = [method(s).spec.partition("(")[0] for s in lm.schedules]
    for family in ("cosine", "linear", "rex", "wsd", "schedulefree", "step", "constant"):
        assert family in names
    assert sorted(s for s in lm.schedules if s.startswith("uba")) == [
        "uba(phi=0.5, warmup=0.05)",
        "uba(warmup=0.05)",
    ]
    assert method("wsd(decay=0.2, shape=1-sqrt, warmup=0.05)").spec in lm.schedules
    assert schedulefree_lm.schedules == ("schedulefree(warmup=0.05)",) and schedulefree_lm.seeds == lm.seeds
    # quadratics: 6 and 10 LRs, mnist1d-cnn: 4; the language model 5, and one more for schedule-free
    assert (
        len(cheap.trials()) + len(lm.trials()) + len(schedulefree_lm.trials())
        == 14 * (6 + 10) * 8 * 4 + 14 * 4 * 8 * 4 + 9 * 5 * 4 * 4 + 4 * 4
        == 9696
    )


def test_the_claims_baselines_run_on_every_workload_of_the_study():
    claim = SUITES["study"].claim
    assert claim is not None
    named = {method(s).spec for s in (claim.challenger, *claim.baselines, *claim.weak)}
    ran: dict[str, set[str]] = {}
    for plan in plans("study"):
        for workload in plan.workloads:
            ran.setdefault(workload, set()).update(plan.schedules)
    assert len(ran) == 4 and all(named <= schedules for schedules in ran.values())


def test_the_quick_suite_stays_small():
    (quick,) = plans("quick")
    assert len(quick.trials()) == 336


#: The settings an optimizer's schedule-free counterpart must share with it (torch's names).
SHARED = {"sgd": ("momentum", "weight_decay"), "adamw": ("betas", "eps", "weight_decay")}
KINDS = {
    torch.nn.Conv1d: "1-D convnet",
    torch.nn.Conv2d: "2-D convnet",
    torch.nn.GRU: "recurrent",
    torch.nn.LSTM: "recurrent",
    Block: "transformer",
}


def kind(model):
    kinds = {KINDS[type(m)] for m in model.modules() if type(m) in KINDS}
    if not kinds and all(
        type(m) in (torch.nn.Linear, torch.nn.ReLU, torch.nn.Flatten, torch.nn.Sequential)
        for m in model.modules()
    ):
        return "MLP"
    (only,) = kinds
    return only


def test_within_a_workload_of_the_fair_study_every_method_runs_one_optimizer_with_one_setting():
    for part in SUITES["fair"].sweeps():
        for spec in part.workloads:
            workload = resolve_workload(spec)
            model = workload.build_model()
            declared = tuple(workload.optimizer_settings[key] for key in SHARED[workload.optimizer])
            for schedule in part.schedules:
                optimizer = make_optimizer(method(schedule), workload, model, 0.01, 100)
                group = optimizer.param_groups[0]
                assert tuple(group[key] for key in SHARED[workload.optimizer]) == declared, (spec, schedule)
                family = "SGD" if workload.optimizer == "sgd" else "AdamW"
                assert type(optimizer).__name__ in (family, f"{family}ScheduleFree"), (spec, schedule)


def test_the_fair_study_has_six_networks_of_four_kinds_and_both_optimizers_and_a_long_language_model():
    fair = SUITES["fair"]
    networks = [w for part in fair.sweeps() for w in part.workloads if not w.startswith("quadratic")]
    kinds = {kind(resolve_workload(w).build_model()) for w in networks}
    optimizers = {resolve_workload(w).optimizer for w in networks}
    assert len(networks) >= 6 and len(kinds) >= 4 and optimizers == {"sgd", "adamw"}, (networks, kinds)
    (lm,) = fair.more
    assert resolve_workload(*lm.workloads).full_budget >= 5000
    assert all("warmup_steps=" in s for s in lm.schedules)
    # the quadratics are the convex controls, named apart so that no verdict pools them with networks
    assert {w for w in fair.workloads if w.startswith("quadratic")} == set(FAIR_CONTROLS)
    assert fair.refine and lm.refine


def test_every_trial_of_the_fair_study_trains_100_steps_or_more_so_its_curve_holds_100_points():
    for part in SUITES["fair"].sweeps():
        for workload in part.workloads:
            full = resolve_workload(workload).full_budget
            assert min(budget_steps(full, b) for b in part.budgets) >= TRAIN_POINTS == 100, workload


def test_a_workload_named_with_a_suite_runs_in_the_sweep_that_holds_it():
    from budgetlr.cli.bench import sweeps_of

    fair = SUITES["fair"]
    (lm,) = fair.more
    assert sweeps_of(fair, None) == [(fair, fair.workloads), (lm, lm.workloads)]
    # not the language model's 100-step warmup, which digits-cnn's shortest budget could not hold
    assert sweeps_of(fair, ["digits-cnn"]) == [(fair, ("digits-cnn",))]
    assert sweeps_of(fair, ["stdlib-gpt-long", "mnist1d-mlp"]) == [
        (fair, ("mnist1d-mlp",)),
        (lm, ("stdlib-gpt-long",)),
    ]
    assert sweeps_of(fair, ["quadratic(kappa=1e4)"]) == [(fair, ("quadratic(kappa=1e4)",))]
    assert sweeps_of(fair, ["stdlib-gpt"]) == [(fair, ("stdlib-gpt",))]  # not in the suite: its first sweep


def test_the_fair_language_model_reports_each_method_under_the_networks_name():
    names = SUITES["fair"].report_names()
    assert names == {
        ("stdlib-gpt-long", method(lm).spec): method(main).spec
        for lm, main in [
            ("uba(warmup_steps=100)", "uba(warmup=0.05)"),
            ("cosine(warmup_steps=100)", "cosine(warmup=0.05)"),
            ("linear(warmup_steps=100)", "linear(warmup=0.05)"),
            ("wsd(decay=0.2, shape=1-sqrt, warmup_steps=100)", "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)"),
            ("rex(warmup_steps=100)", "rex(warmup=0.05)"),
            ("constant(warmup_steps=100)", "constant(warmup=0.05)"),
            ("schedulefree(warmup_steps=100)", "schedulefree(warmup=0.05)"),
        ]
    }
    assert SUITES["study"].report_names() == {}
