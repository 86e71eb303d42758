"""The planner held to targets on a study's workloads (docs/plan.md, "Validated on budgetlr's own
workloads"). On each workload the Multi-Power Law is fitted to two runs at half the full budget,
the constant schedule and cosine decay, each at its tuned peak LR, seeds averaged; it then predicts
the final training loss of every LR schedule at the full budget (each at its tuned peak LR) and
designs one, the schedule it predicts lowest at the cosine run's peak LR. The design is judged as
the study judges schedules, by held-out loss at each schedule's tuned LR, against fixed policies:
always cosine, always WSD, always linear, and ``budgetlr recommend``'s choice made without the
workload.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from budgetlr.bench.methods import MethodKind, method
from budgetlr.bench.runs import setting_run
from budgetlr.bench.store import Store, Trial
from budgetlr.errors import InvalidInput
from budgetlr.plan import Fit, Run, fit, predict_lrs
from budgetlr.plan.designing import final_losses
from budgetlr.schedules import schedule
from budgetlr.study.analysis import Cell
from budgetlr.study.pages import Section, Styled, Table
from budgetlr.study.recommend import excess, recommend

PLANNING_BUDGET = 0.5
FULL_BUDGET = 1.0
#: The families of the two planning runs.
PLANNING = ("constant", "cosine")
#: The fixed policies the design is judged against, by family.
FIXED = ("cosine", "wsd", "linear")
RECOMMENDED = "recommend's choice"
DESIGNED = "the planner's design"
#: The targets written in docs/plan.md before the numbers were computed.
TARGET_ERROR_SE = 2.0
TARGET_SIGN_ACCURACY = 0.8
TARGET_REGRET = 0.01
#: A gap between two schedules counts for the sign accuracy when it exceeds this many standard errors.
GAP_SE = 2.0


@dataclass(frozen=True)
class Predicted:
    """One schedule's final training loss at the full budget: predicted, and observed over seeds."""

    schedule: str
    predicted: float
    observed: float
    se: float
    #: the observed final training loss of each seed
    by_seed: dict[int, float]

    @property
    def error_se(self) -> float:
        return abs(self.predicted - self.observed) / self.se if self.se > 0 else math.inf


@dataclass(frozen=True)
class Pair:
    """Two schedules' observed gap (paired by seed) and its standard error, and the predicted gap."""

    first: str
    second: str
    observed: float
    se: float
    predicted: float

    @property
    def resolved(self) -> bool:
        return abs(self.observed) > GAP_SE * self.se

    @property
    def right(self) -> bool:
        return math.copysign(1.0, self.observed) == math.copysign(1.0, self.predicted)


@dataclass(frozen=True)
class WorkloadCheck:
    workload: str
    #: passes over the training data at the full budget (None: fresh data every step)
    epochs: float | None
    #: the law's mean relative error on the two planning runs, after their warmup
    fit_error: float
    predictions: tuple[Predicted, ...]
    pairs: tuple[Pair, ...]
    tau: float
    design: str
    #: held-out loss over the study's best at the full budget, minus one, by policy
    regrets: dict[str, float]


def family(spec: str) -> str:
    return method(spec).base.name


def replayable(spec: str) -> bool:
    """Whether the law can read ``spec``'s LR: a plain schedule (not schedule-free, refined or auto)."""
    return method(spec).kind == MethodKind.SCHEDULE


def by_family(group: dict[str, Cell], name: str) -> Cell:
    found = [cell for spec, cell in group.items() if replayable(spec) and family(spec) == name]
    if len(found) != 1:
        raise InvalidInput(
            f"the study holds {len(found)} {name} schedules on {next(iter(group.values())).workload}"
        )
    return found[0]


def check_workload(
    workload: str,
    cells: Sequence[Cell],
    others: Sequence[Cell],
    trials: dict[str, Trial],
    store: Store,
    epochs: float | None,
) -> WorkloadCheck:
    """The checks on ``workload``; ``others`` are the cells of the workloads recommend chooses on."""
    planning = {c.schedule: c for c in cells if c.budget == PLANNING_BUDGET and c.tuned_lr is not None}
    full = {c.schedule: c for c in cells if c.budget == FULL_BUDGET and c.tuned_lr is not None}
    runs = [
        setting_run(store, f"{workload} {name}", [trials[key] for key in by_family(planning, name).keys])
        for name in PLANNING
    ]
    fitted = fit(runs, law="mpl", replicates=0)
    # A cell's schedule is the name it is reported under; its trials hold the spec they ran.
    ran = {name: trials[cell.keys[0]].schedule for name, cell in full.items()}
    predictions = tuple(
        predicted(fitted, cell, ran[name], trials, store)
        for name, cell in sorted(full.items())
        if replayable(name)
    )
    cosine_peak = by_family(planning, "cosine").tuned_lr
    assert cosine_peak is not None
    design = min(
        predictions,
        key=lambda p: final_loss(fitted, ran[p.schedule], full[p.schedule].steps, cosine_peak),
    ).schedule
    losses = excess(full)
    regrets = {name: losses[by_family(full, name).schedule] for name in FIXED}
    if others:
        regrets[RECOMMENDED] = losses[recommend(others, FULL_BUDGET).choice.schedule]
    regrets[DESIGNED] = losses[design]
    from scipy.stats import kendalltau

    tau = float(kendalltau([p.predicted for p in predictions], [p.observed for p in predictions]).statistic)
    return WorkloadCheck(
        workload,
        epochs,
        fit_error(fitted, runs),
        predictions,
        tuple(pair(a, b) for a, b in combinations(predictions, 2)),
        tau,
        design,
        regrets,
    )


def fit_error(fitted: Fit, runs: Sequence[Run]) -> float:
    """The fit's mean relative error on the runs it was fitted to, after their warmup (the law's
    power term grows without bound as the LR's sum nears 0, so warmup points swamp a mean)."""
    errors = []
    for run in runs:
        after = run.steps >= int(np.argmax(run.lrs >= run.lrs.max()))
        losses = predict_lrs(fitted, run.lrs, run.steps).loss[after]
        errors.append(np.mean(np.abs(losses - run.losses[after]) / run.losses[after]))
    return float(np.mean(errors))


def final_loss(fitted: Fit, spec: str, steps: int, peak: float) -> float:
    return float(final_losses(fitted, schedule(spec, steps).lr(np.arange(steps), peak))[0])


def predicted(fitted: Fit, cell: Cell, spec: str, trials: dict[str, Trial], store: Store) -> Predicted:
    """``cell``'s observed final training loss, and the one ``fitted`` predicts for ``spec``, the
    schedule its trials ran, at its tuned LR."""
    assert cell.tuned_lr is not None
    by_seed = {trials[key].seed: last_training_loss(store, key) for key in cell.keys}
    values = np.array(list(by_seed.values()))
    se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else math.inf
    return Predicted(
        cell.schedule,
        final_loss(fitted, spec, cell.steps, cell.tuned_lr),
        float(values.mean()),
        se,
        by_seed,
    )


def last_training_loss(store: Store, key: str) -> float:
    points = [p.train_loss for p in store.curve(key) if p.train_loss is not None]
    if not points:
        raise InvalidInput(f"trial {key[:8]} stored no training-loss curve")
    return float(points[-1])


def pair(a: Predicted, b: Predicted) -> Pair:
    seeds = sorted(set(a.by_seed) & set(b.by_seed))
    differences = np.array([a.by_seed[s] - b.by_seed[s] for s in seeds])
    se = float(differences.std(ddof=1) / math.sqrt(differences.size)) if differences.size > 1 else math.inf
    return Pair(a.schedule, b.schedule, float(differences.mean()), se, a.predicted - b.predicted)


@dataclass(frozen=True)
class Summary:
    """The measures of docs/plan.md over a group of workloads, each against its target."""

    checks: tuple[WorkloadCheck, ...]
    #: the workloads the law could not be fitted on, and why
    failed: tuple[tuple[str, str], ...] = ()

    @property
    def median_error_se(self) -> float:
        return float(np.median([p.error_se for c in self.checks for p in c.predictions]))

    @property
    def resolved_pairs(self) -> list[Pair]:
        return [p for c in self.checks for p in c.pairs if p.resolved]

    @property
    def sign_accuracy(self) -> float:
        resolved = self.resolved_pairs
        return sum(p.right for p in resolved) / len(resolved) if resolved else math.nan

    @property
    def median_tau(self) -> float:
        return float(np.median([c.tau for c in self.checks]))

    def median_regret(self, policy: str) -> float:
        return float(np.median([c.regrets[policy] for c in self.checks if policy in c.regrets]))

    @property
    def policies(self) -> list[str]:
        return [*FIXED, *([RECOMMENDED] if all(RECOMMENDED in c.regrets for c in self.checks) else [])]


def check_group(
    workloads: Sequence[str],
    cells: Sequence[Cell],
    trials: Sequence[Trial],
    store: Store,
    epochs: Callable[[str], float | None],
) -> Summary:
    """The checks on each of ``workloads``, recommend's choice for each made on the others; a
    workload whose runs the law cannot be fitted to is named with the reason."""
    by_key = {t.key: t for t in trials}
    mine = [c for c in cells if c.workload in workloads]
    checks, failed = [], []
    for workload in workloads:
        others = [c for c in mine if c.workload != workload]
        try:
            checks.append(
                check_workload(
                    workload,
                    [c for c in mine if c.workload == workload],
                    others,
                    by_key,
                    store,
                    epochs(workload),
                )
            )
        except InvalidInput as error:
            failed.append((workload, str(error)))
    return Summary(tuple(checks), tuple(failed))


def measured(workload: str, cells: Sequence[Cell]) -> bool:
    """Whether the study holds what the check on ``workload`` reads: the planning runs, and every
    replayable schedule at the full budget with a tuned LR."""
    mine = [c for c in cells if c.workload == workload and c.tuned_lr is not None]
    planning = {family(c.schedule) for c in mine if c.budget == PLANNING_BUDGET and replayable(c.schedule)}
    full = {family(c.schedule) for c in mine if c.budget == FULL_BUDGET and replayable(c.schedule)}
    return set(PLANNING) <= planning and {*PLANNING, *FIXED} <= full


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def targets_table(summary: Summary) -> Table:
    """Each measure of docs/plan.md against its target, missed ones in bold."""

    def outcome(text: str, met: bool | None) -> list[Styled]:
        return [(text, ""), ("met" if met else "**missed**" if met is False else "–", "")]

    designed = summary.median_regret(DESIGNED)
    rows = [
        [("median prediction error", ""), (f"at most {TARGET_ERROR_SE:g} SE", ""),
         *outcome(f"{summary.median_error_se:.2f} SE", summary.median_error_se <= TARGET_ERROR_SE)],
        [(f"sign accuracy on gaps over {GAP_SE:g} SE", ""), (f"at least {TARGET_SIGN_ACCURACY:.0%}", ""),
         *outcome(f"{percent(summary.sign_accuracy)} of {len(summary.resolved_pairs)} pairs",
                  None if math.isnan(summary.sign_accuracy) else summary.sign_accuracy >= TARGET_SIGN_ACCURACY)],
        [("Kendall's tau, median over workloads", ""), ("reported", ""), *outcome(f"{summary.median_tau:+.2f}", None)],
        [("the design's median regret", ""), (f"at most {TARGET_REGRET:.0%}", ""),
         *outcome(percent(designed), designed <= TARGET_REGRET)],
    ]  # fmt: skip
    for policy in summary.policies:
        theirs = summary.median_regret(policy)
        rows.append(
            [(f"... against {policy_name(policy)}", ""), ("below it", ""),
             *outcome(f"{percent(designed)} against {percent(theirs)}", designed < theirs)]
        )  # fmt: skip
    return Table(["measure", "target", "outcome", "target met"], rows)


def policy_name(policy: str) -> str:
    return policy if policy == RECOMMENDED else f"always {policy}"


def workloads_table(summary: Summary, short: Callable[[str], str]) -> Table:
    policies = [*summary.policies, DESIGNED]
    rows = []
    for c in summary.checks:
        epochs = "fresh data" if c.epochs is None else f"{c.epochs:.2g}"
        errors = float(np.median([p.error_se for p in c.predictions]))
        resolved = [p for p in c.pairs if p.resolved]
        rows.append(
            [
                (c.workload, ""),
                (epochs, "best" if c.epochs is not None and c.epochs > 1 else ""),
                (percent(c.fit_error), ""),
                (f"{errors:.2f}", ""),
                (f"{sum(p.right for p in resolved)} of {len(resolved)}", ""),
                (f"{c.tau:+.2f}", ""),
                (short(c.design), ""),
                *[(percent(c.regrets[p]), "") for p in policies],
            ]
        )
    header = ["workload", "epochs", "fit's error", "median error (SE)", "signs right", "tau", "design"]
    return Table(
        header + [f"regret: {'design' if p == DESIGNED else policy_name(p)}" for p in policies], rows
    )


def planner_section(
    groups: Sequence[tuple[str, Sequence[str]]],
    cells: Sequence[Cell],
    trials: Sequence[Trial],
    out: Path,
    short: Callable[[str], str],
) -> Section:
    """The planner's validation (docs/plan.md) on each group of workloads (networks, controls)."""
    from budgetlr.bench.workloads import resolve_workload

    found = []
    with Store.existing(out) as store:
        for title, workloads in groups:
            ready = [w for w in workloads if measured(w, cells)]
            entry: dict[str, object] = {
                "title": title,
                "missing": [w for w in workloads if w not in ready],
                "failed": [],
            }
            if ready:
                summary = check_group(ready, cells, trials, store, lambda w: resolve_workload(w).epochs())
                entry["failed"] = [f"{workload} ({why})" for workload, why in summary.failed]
                if summary.checks:
                    entry |= {"targets": targets_table(summary), "table": workloads_table(summary, short)}
            found.append(entry)
    fields = {
        "groups": found,
        "planning": PLANNING_BUDGET,
        "gap": GAP_SE,
        "multi_epoch": sorted(
            w for _, ws in groups for w in ws if (e := resolve_workload(w).epochs()) is not None and e > 1
        ),
    }
    return Section("results/planner.md.j2", fields)
