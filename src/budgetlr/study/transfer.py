"""Peak-LR transfer across budgets: the power law ``lr*(T) = a T^b`` of the tuned peak LR in the
budget (the Power scheduler's law, arXiv 2408.13359) is fitted per workload and schedule on the
sweep's smaller budgets, and predicts the LR at the largest. The trials at the predicted LR are
extra runs (:func:`transfer_configs`, ``budgetlr lr-transfer``); their test loss against the
tuned LR's gives the regret of trusting the law.

Trials off their sweep's LR grid (the transfer runs themselves) never take part in the fit or in the
tuning of the study's cells: :func:`budgetlr.study.analysis.on_grid` separates them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from budgetlr.bench.methods import source_of
from budgetlr.bench.runner import TrialConfig
from budgetlr.bench.store import Trial
from budgetlr.study import lr_law, stats
from budgetlr.study.analysis import Planned, on_grid
from budgetlr.study.recommend import edge_budgets, is_pickable, lr_sweep
from budgetlr.study.stats import BOOTSTRAP_SEED


@dataclass(frozen=True)
class Transfer:
    """The law fitted on the smaller budgets of one (workload, schedule), and its prediction."""

    workload: str
    schedule: str
    fitted_on: list[float]
    law: lr_law.PowerLaw
    #: the exponent's 95% interval (bootstrap over seeds)
    exponent: stats.Interval
    largest: float
    #: the law's LR at the largest budget, to 3 significant digits (the LR the transfer runs use)
    predicted_lr: float
    #: the grid LR tuned on validation at the largest budget, and its seeds
    tuned_lr: float
    seeds: list[int]
    #: the budgets (fitted on or predicted) whose best grid LR sat at an edge of the grid
    edges: list[float]

    def configs(self) -> list[TrialConfig]:
        return [
            TrialConfig(self.workload, self.schedule, self.largest, self.predicted_lr, s) for s in self.seeds
        ]


def transfers(trials: Sequence[Trial], planned: Planned = frozenset()) -> list[Transfer]:
    """Every (workload, schedule) of ``trials`` swept on the grid at 4 or more budgets with held-out
    losses and 2 or more seeds, its law fitted on all budgets but the largest. ``planned``: as
    :func:`~budgetlr.study.analysis.on_grid` takes it."""
    grid_trials, _ = on_grid([t for t in trials if is_pickable(t.schedule)], planned)
    out = []
    for workload, schedule in sorted({(t.workload, t.schedule) for t in grid_trials}):
        sweep = lr_sweep(grid_trials, workload, schedule)
        usable = {
            t: by_lr
            for t, by_lr in sweep.items()
            if len(next(iter(by_lr.values()))) >= 2 and any(np.isfinite(v).any() for v in by_lr.values())
        }
        if len(usable) < 4:
            continue
        budgets = sorted(usable)
        smaller, largest = budgets[:-1], budgets[-1]
        law, exponent = lr_law.lr_power_law(
            {t: usable[t] for t in smaller}, rng=np.random.default_rng(BOOTSTRAP_SEED)
        )
        means = {lr: float(np.mean(v)) for lr, v in usable[largest].items()}
        finite = {lr: m for lr, m in means.items() if math.isfinite(m)}
        if not finite:
            continue
        tuned = min(finite, key=finite.__getitem__)
        seeds = sorted(
            {
                t.seed
                for t in grid_trials
                if (t.workload, t.schedule, t.budget, t.lr) == (workload, schedule, largest, tuned)
            }
        )
        predicted = float(f"{law.predict(largest):.3g}")
        edges = edge_budgets(usable)
        out.append(
            Transfer(workload, schedule, smaller, law, exponent, largest, predicted, tuned, seeds, edges)
        )
    return out


def transfer_configs(trials: Sequence[Trial], planned: Planned = frozenset()) -> list[TrialConfig]:
    """The trials at the predicted LRs that the transfer test needs (without the runs that
    ``refined`` ones refine, which the sweep adds)."""
    return [config for transfer in transfers(trials, planned) for config in transfer.configs()]


def current(runs: Sequence[Trial], found: Sequence[Transfer]) -> tuple[list[Trial], list[Trial]]:
    """``runs`` (off the grid) split into those the transfer test ``found`` makes (at the LRs its
    laws predict, and the runs ``refined`` ones refine) and the rest, which it does not use: e.g.
    runs at what a law predicted before its grid was widened."""
    made = {
        (c.workload, c.schedule, c.budget, c.lr)
        for predicted in (config for item in found for config in item.configs())
        for c in (predicted, source_of(predicted))
        if c is not None
    }
    now = [t for t in runs if (t.workload, t.schedule, t.budget, t.lr) in made]
    return now, [t for t in runs if (t.workload, t.schedule, t.budget, t.lr) not in made]


def regret(transfer: Transfer, trials: Sequence[Trial]) -> float | None:
    """Test loss at the predicted LR over the tuned LR's, paired by seed: the geometric mean of the
    ratios, minus 1; None until every seed's run at the predicted LR is stored (or a run diverged:
    infinite regret)."""

    def losses(lr: float) -> dict[int, float | None]:
        return {
            t.seed: (t.test_loss if t.status == "ok" else math.inf)
            for t in trials
            if (t.workload, t.schedule, t.budget, t.lr)
            == (transfer.workload, transfer.schedule, transfer.largest, lr)
        }

    predicted, tuned = losses(transfer.predicted_lr), losses(transfer.tuned_lr)
    if transfer.predicted_lr == transfer.tuned_lr:
        return 0.0
    pairs = [(predicted.get(s), tuned.get(s)) for s in transfer.seeds]
    if any(p is None or q is None for p, q in pairs):
        return None
    if any(p == math.inf for p, _ in pairs):
        return math.inf
    return math.expm1(float(np.mean([math.log(p / q) for p, q in pairs if p is not None and q is not None])))
