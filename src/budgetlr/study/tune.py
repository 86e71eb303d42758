"""Tuning with Optuna: per (workload, schedule, budget), a study over the peak LR (and, for UBA,
phi), stored in ``optuna.db`` beside the results so that an interrupted study resumes.

No pruner: early-stopping tuners judge runs before a budget-aware schedule has decayed and so
favour early decay (docs/benchmark.md, Methodology). Each Optuna trial is the plan's seeds at one (LR, phi),
run and stored like any sweep trial; its value is their mean final validation metric, and a
diverged seed fails it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from budgetlr._extras import require
from budgetlr.bench.executors import LOCAL, Execution
from budgetlr.bench.methods import MethodKind, method
from budgetlr.bench.runner import TrialConfig
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import SweepPlan, run_configs
from budgetlr.bench.workloads import resolve_workload
from budgetlr.errors import InvalidInput
from budgetlr.schedules import parse

PHI_CHOICES = (0.25, 0.5, 1.0, 2.0, 4.0)
OPTUNA_DB = "optuna.db"


@dataclass
class StudyResult:
    name: str
    trials: int
    best_value: float | None
    best_params: dict[str, Any]


def study_name(workload: str, schedule: str, budget: float) -> str:
    return f"{workload} | {schedule} | budget {budget:g}"


def tune_with_optuna(
    plan: SweepPlan,
    out: Path,
    trials: int,
    execution: Execution = LOCAL,
) -> list[StudyResult]:
    """Run ``trials`` Optuna trials per (workload, schedule, budget) of ``plan`` (its LR grid
    gives the search range: a third of its lowest LR to three times its highest)."""
    optuna = require("optuna", "optuna", "--tuner optuna")
    execution.check()
    if trials < 1:
        raise InvalidInput(f"--trials must be >= 1, got {trials}")
    Path(out).mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{(Path(out) / OPTUNA_DB).resolve()}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # Each batch of Optuna trials is a small sweep; they share one pool of workers.
    batch = max(1, min(execution.workers or 2, trials)) * len(plan.seeds)
    with execution.keeping_workers(batch) as kept:
        return [
            tune_cell(optuna, storage, plan, workload, schedule, budget, trials, out, kept)
            for workload in plan.workloads
            for schedule in plan.schedules
            for budget in plan.budgets
        ]


def tune_cell(
    optuna: Any,
    storage: str,
    plan: SweepPlan,
    workload: str,
    schedule: str,
    budget: float,
    trials: int,
    out: Path,
    execution: Execution,
) -> StudyResult:
    """One (workload, schedule, budget)'s study, resumed if stored, run to ``trials`` trials."""
    higher_is_better = resolve_workload(workload).higher_is_better
    low, high = min(plan.lrs[workload]) / 3.0, max(plan.lrs[workload]) * 3.0
    study = optuna.create_study(
        study_name=study_name(workload, schedule, budget),
        storage=storage,
        load_if_exists=True,
        direction="maximize" if higher_is_better else "minimize",
        pruner=optuna.pruners.NopPruner(),
    )
    # Seeded by the trials already there: a resumed study must not repeat its first points.
    study.sampler = optuna.samplers.TPESampler(seed=len(study.trials))
    space = search_space(optuna, schedule, low, high)
    TuningCell(study, workload, schedule, budget, plan.seeds, space).run(trials, out, execution)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = study.best_trial if done else None
    return StudyResult(study.study_name, len(done), best.value if best else None, best.params if best else {})


def search_space(optuna: Any, schedule: str, low: float, high: float) -> dict[str, Any]:
    space = {"lr": optuna.distributions.FloatDistribution(low, high, log=True)}
    resolved = method(schedule)
    if resolved.kind == MethodKind.SCHEDULE and resolved.base.name == "uba":
        space["phi"] = optuna.distributions.CategoricalDistribution(PHI_CHOICES)
    return space


@dataclass
class TuningCell:
    study: Any
    workload: str
    schedule: str
    budget: float
    seeds: tuple[int, ...]
    space: dict[str, Any]

    def configs(self, params: dict[str, Any]) -> list[TrialConfig]:
        spec = self.schedule
        if "phi" in params:
            spec = str(parse({**parse(spec).to_dict(), "phi": params["phi"]}))
        return [TrialConfig(self.workload, spec, self.budget, params["lr"], seed) for seed in self.seeds]

    def run(self, trials: int, out: Path, execution: Execution) -> None:
        import optuna

        states = optuna.trial.TrialState
        # Trials a killed run asked but never told: their seeds may already be stored.
        pending = [t for t in self.study.trials if t.state == states.RUNNING]
        finished = sum(t.state in (states.COMPLETE, states.FAIL) for t in self.study.trials)
        while finished < trials:
            if not pending:
                batch = max(1, min(execution.workers or 2, trials - finished))
                pending = [self.study.ask(self.space) for _ in range(batch)]
            configs = {t.number: self.configs(t.params) for t in pending}
            run_configs([c for cs in configs.values() for c in cs], out, execution)
            with Store(out) as store:
                stored = store.trials_by_key([c.key() for cs in configs.values() for c in cs])
            for trial in pending:
                runs = [stored[c.key()] for c in configs[trial.number]]
                values = [r.val_metric for r in runs if r.status == "ok" and r.val_metric is not None]
                value = sum(values) / len(values) if len(values) == len(runs) else math.nan
                if math.isfinite(value):
                    self.study.tell(trial.number, value)
                else:
                    self.study.tell(trial.number, state=states.FAIL)
                finished += 1
            pending = []
