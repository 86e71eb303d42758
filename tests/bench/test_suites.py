"""The study suite has the shape its results page needs: enough seeds, a language model with the
schedules the claim names, and LRs at 4 budgets for the LR-transfer fit."""

from budgetlr.bench.methods import method
from budgetlr.bench.suites import SUITES
from budgetlr.bench.sweep import make_plan


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
