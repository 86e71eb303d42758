"""The named suites of ``budgetlr bench``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from budgetlr.bench.runner import TrialConfig

BASELINES = (
    "cosine(warmup=0.05)",
    "linear(warmup=0.05)",
    "uba(warmup=0.05)",
    "rex(warmup=0.05)",
    "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
    "step(warmup=0.05)",
    "constant(warmup=0.05)",
)


#: The study's cheap workloads (8 seeds) run every method; its language model (4 seeds) the
#: schedules the claim names. digits-cnn (98% accuracy, 360 test images) left the study.
STUDY_WORKLOADS = ("quadratic", "quadratic(kappa=10000.0)", "mnist1d-cnn")
#: uba(phi=2) is cosine exactly, so cosine stands for it.
STUDY_SCHEDULES = (
    "uba(phi=0.5, warmup=0.05)",
    "uba(warmup=0.05)",
    "uba(phi=4.0, warmup=0.05)",
    "uba(phi=auto, warmup=0.05)",
    "rex(warmup=0.05)",
    "linear(warmup=0.05)",
    "cosine(warmup=0.05)",
    "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
    "step(warmup=0.05)",
    "exponential(warmup=0.05)",
    "onecycle",
    "constant(warmup=0.05)",
    "refined",
    "schedulefree(warmup=0.05)",
)
STUDY_LM = "stdlib-gpt"
STUDY_LM_SCHEDULES = (
    "uba(phi=0.5, warmup=0.05)",
    "uba(warmup=0.05)",
    "rex(warmup=0.05)",
    "linear(warmup=0.05)",
    "cosine(warmup=0.05)",
    "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
    "step(warmup=0.05)",
    "constant(warmup=0.05)",
    "schedulefree(warmup=0.05)",
)
STUDY_BUDGETS = (0.1, 0.25, 0.5, 1.0)
#: Brackets the tuned LR of every schedule and budget (docs/benchmark.md, "The study's cost"): the
#: short budgets tune near 0.0015-0.003, the full budget near 0.006.
LM_LRS = (0.00075, 0.0015, 0.003, 0.006, 0.012)


#: The fair study (docs/benchmark.md, "The fair study"): six networks of five kinds, SGD with
#: momentum and AdamW, and two quadratics as convex controls, never pooled with them. Within a
#: workload every method runs its optimizer (schedule-free its schedule-free counterpart, with the
#: same momentum or betas and weight decay).
FAIR_NETWORKS = ("mnist1d-cnn", "mnist1d-mlp", "mnist1d-gru", "mnist1d-transformer", "digits-cnn")
FAIR_LM = "stdlib-gpt-long"
FAIR_CONTROLS = ("quadratic", "quadratic(kappa=10000.0)")
FAIR_SCHEDULES = (
    "uba(warmup=0.05)",
    "cosine(warmup=0.05)",
    "linear(warmup=0.05)",
    "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
    "rex(warmup=0.05)",
    "constant(warmup=0.05)",
    "schedulefree(warmup=0.05)",
)
#: The same methods; the language model warms up for a fixed number of steps at every budget.
FAIR_LM_SCHEDULES = (
    "uba(warmup_steps=100)",
    "cosine(warmup_steps=100)",
    "linear(warmup_steps=100)",
    "wsd(decay=0.2, shape=1-sqrt, warmup_steps=100)",
    "rex(warmup_steps=100)",
    "constant(warmup_steps=100)",
    "schedulefree(warmup_steps=100)",
)
#: The coarse grids, a factor 2 apart; refinement adds LRs around each cell's optimum.
FAIR_LRS: dict[str, tuple[float, ...]] = {
    "mnist1d-cnn": (0.005, 0.01, 0.02, 0.04),
    "mnist1d-mlp": (0.025, 0.05, 0.1, 0.2),
    "mnist1d-gru": (0.005, 0.01, 0.02, 0.04),
    "mnist1d-transformer": (0.0025, 0.005, 0.01, 0.02),
    "digits-cnn": (0.025, 0.05, 0.1, 0.2),
    FAIR_LM: (0.0015, 0.003, 0.006, 0.012),
    "quadratic": (0.0125, 0.025, 0.05, 0.1),
    "quadratic(kappa=10000.0)": (0.0125, 0.025, 0.05, 0.1),
}


#: The schedules UBA's claim (arXiv 2505.24452) is tested against, in both studies.
UBA_BASELINES = (
    "cosine(warmup=0.05)",
    "linear(warmup=0.05)",
    "rex(warmup=0.05)",
    "wsd(decay=0.2, shape=1-sqrt, warmup=0.05)",
    "schedulefree(warmup=0.05)",
)


@dataclass(frozen=True)
class Claim:
    """A published claim a suite tests: ``challenger`` beats ``baselines`` at ``budgets``. The
    ``weak`` baselines are ones no budget-aware schedule should lose to, reported apart."""

    paper: str
    challenger: str
    baselines: tuple[str, ...]
    weak: tuple[str, ...]
    budgets: tuple[float, ...]


@dataclass(frozen=True)
class Suite:
    description: str
    workloads: tuple[str, ...]
    schedules: tuple[str, ...]
    budgets: tuple[float, ...]
    seeds: tuple[int, ...]
    #: Peak-LR grids that replace a workload's own (keyed by canonical workload spec).
    lrs: dict[str, tuple[float, ...]] = field(default_factory=dict)
    #: What the suite's results page answers: a claim, and pairs (challenger, baseline) compared
    #: head to head.
    claim: Claim | None = None
    comparisons: tuple[tuple[str, str], ...] = ()
    #: Further sweeps of the suite, each with its own workloads, schedules, seeds and LR grids.
    more: tuple[Suite, ...] = ()
    #: Whether the LR grids are coarse passes that :mod:`budgetlr.study.finegrid` refines.
    refine: bool = False
    #: Workloads reported in a section of their own, never pooled with the others (convex controls).
    controls: tuple[str, ...] = ()
    #: Schedules of this sweep reported under another sweep's name: the same method, specified
    #: differently for its workloads (the fair study's language model warms up for 100 steps).
    reported_as: dict[str, str] = field(default_factory=dict)

    def report_names(self) -> dict[tuple[str, str], str]:
        """``{(workload, canonical schedule): the name it is reported under}`` over the sweeps."""
        from budgetlr.bench.methods import method

        return {
            (workload, method(schedule).spec): method(name).spec
            for part in self.sweeps()
            for workload in part.workloads
            for schedule, name in part.reported_as.items()
        }

    def sweeps(self) -> tuple[Suite, ...]:
        """The suite's sweeps: its own workloads x schedules x budgets x seeds, then ``more``."""
        return (self, *self.more)

    def plan(self) -> list[TrialConfig]:
        """Every trial its sweeps plan, in canonical specs (a refining suite's coarse pass)."""
        from budgetlr.bench.sweep import make_plan  # here, so naming the suites imports no torch

        return [
            config
            for part in self.sweeps()
            for config in make_plan(
                part.workloads, part.schedules, part.budgets, part.seeds, grids=part.lrs
            ).trials()
        ]

    def planned(self) -> frozenset[tuple[str, str, float]]:
        """(workload, schedule, peak LR) of every trial of :meth:`plan`: its LR grids, per workload
        and schedule."""
        return frozenset((c.workload, c.schedule, c.lr) for c in self.plan())


SUITES = {
    "quick": Suite(
        "the CPU workloads that separate schedules",
        ("quadratic", "mnist1d-cnn"),
        BASELINES,
        (0.1, 0.25, 0.5, 1.0),
        (0, 1),
    ),
    "full": Suite(
        "every CPU workload, more schedules and 3 seeds",
        ("quadratic", "quadratic(kappa=10000.0)", "mnist1d-cnn", "digits-cnn", "stdlib-gpt"),
        (
            *BASELINES,
            "uba(phi=0.5, warmup=0.05)",
            "uba(phi=2.0, warmup=0.05)",
            "uba(phi=4.0, warmup=0.05)",
            "rex(beta=0.9, warmup=0.05)",
            "exponential(warmup=0.05)",
            "onecycle",
        ),
        (0.1, 0.25, 0.5, 1.0),
        (0, 1, 2),
    ),
    "fair": Suite(
        "the fair study: 5 networks and 2 convex controls x 7 methods, one optimizer per workload, "
        "LRs refined to sqrt(2), 3 seeds; and a byte-level GPT trained 5,000 steps",
        (*FAIR_NETWORKS, *FAIR_CONTROLS),
        FAIR_SCHEDULES,
        (0.1, 0.25, 0.5, 1.0),
        (0, 1, 2),
        FAIR_LRS,
        Claim(
            "2505.24452",
            "uba(warmup=0.05)",
            UBA_BASELINES,
            ("constant(warmup=0.05)",),
            (0.1, 0.25),
        ),
        more=(
            Suite(
                "the fair study's language model",
                (FAIR_LM,),
                FAIR_LM_SCHEDULES,
                (0.1, 0.25, 0.5, 1.0),
                (0, 1, 2),
                FAIR_LRS,
                refine=True,
                reported_as=dict(zip(FAIR_LM_SCHEDULES, FAIR_SCHEDULES, strict=True)),
            ),
        ),
        refine=True,
        controls=FAIR_CONTROLS,
    ),
    "study": Suite(
        "the evidence study of docs/study.md: 3 cheap CPU workloads x 14 methods x 8 seeds, "
        "and a byte-level language model x 9 schedules x 4 seeds",
        STUDY_WORKLOADS,
        STUDY_SCHEDULES,
        STUDY_BUDGETS,
        tuple(range(8)),
        # The workloads' own 3-LR grids left the best LR at an edge in many cells. On the
        # well-conditioned quadratic, 2.0 lies past SGD's stability limit (it diverges). On the
        # ill-conditioned one schedule-free SGD's averaging stays stable and tunes near 4 to 8.
        {
            "quadratic": (0.03, 0.1, 0.3, 1.0, 1.5, 2.0),
            "quadratic(kappa=10000.0)": (0.1, 0.3, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0),
            "mnist1d-cnn": (0.003, 0.01, 0.03, 0.1),
        },
        Claim(
            "2505.24452",
            "uba(warmup=0.05)",
            UBA_BASELINES,
            ("step(warmup=0.05)", "constant(warmup=0.05)"),
            (0.1, 0.25),
        ),
        (
            ("refined", "linear(warmup=0.05)"),
            ("uba(phi=auto, warmup=0.05)", "uba(warmup=0.05)"),
            ("uba(phi=auto, warmup=0.05)", "cosine(warmup=0.05)"),
            ("schedulefree(warmup=0.05)", "cosine(warmup=0.05)"),
        ),
        more=(
            Suite(
                "the study's language model",
                (STUDY_LM,),
                STUDY_LM_SCHEDULES,
                STUDY_BUDGETS,
                tuple(range(4)),
                {STUDY_LM: LM_LRS},
            ),
            Suite(
                "schedule-free AdamW tunes higher on the language model",
                (STUDY_LM,),
                ("schedulefree(warmup=0.05)",),
                STUDY_BUDGETS,
                tuple(range(4)),
                {STUDY_LM: (0.024,)},
            ),
        ),
    ),
}
