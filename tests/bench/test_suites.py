"""The study suite has the shape its results page needs: enough seeds, a language model with the
schedules the claim names, and 3 LRs at 4 budgets for the LR-transfer fit."""

from budgetlr.bench.methods import method
from budgetlr.bench.suites import SUITES
from budgetlr.bench.sweep import make_plan


def plans(name):
    return [
        make_plan(p.workloads, p.schedules, p.budgets, p.seeds, grids=p.lrs) for p in SUITES[name].sweeps()
    ]


def test_the_study_has_8_seeds_on_the_cheap_workloads_and_a_language_model_with_4():
    cheap, lm = plans("study")
    assert set(cheap.workloads) == {"quadratic", "quadratic(kappa=10000.0)", "mnist1d-cnn"}
    assert len(cheap.seeds) == 8 and len(cheap.budgets) == 4
    assert lm.workloads == ("stdlib-gpt",) and len(lm.seeds) == 4 and len(lm.budgets) == 4
    assert lm.lrs == {"stdlib-gpt": (0.003, 0.006, 0.012)}
    names = [method(s).spec.partition("(")[0] for s in lm.schedules]
    for family in ("cosine", "linear", "rex", "wsd", "schedulefree", "step", "constant"):
        assert family in names
    assert sorted(s for s in lm.schedules if s.startswith("uba")) == [
        "uba(phi=0.5, warmup=0.05)",
        "uba(warmup=0.05)",
    ]
    assert method("wsd(decay=0.2, shape=1-sqrt, warmup=0.05)").spec in lm.schedules
    # quadratics: 5 LRs, mnist1d-cnn: 4
    assert (
        len(cheap.trials()) + len(lm.trials()) == 2 * 14 * 5 * 8 * 4 + 14 * 4 * 8 * 4 + 9 * 3 * 4 * 4 == 6704
    )


def test_the_claims_baselines_run_on_every_workload_of_the_study():
    claim = SUITES["study"].claim
    assert claim is not None
    for plan in plans("study"):
        named = {method(s).spec for s in (claim.challenger, *claim.baselines, *claim.weak)}
        assert named <= set(plan.schedules)


def test_the_quick_suite_stays_small():
    (quick,) = plans("quick")
    assert len(quick.trials()) == 336
