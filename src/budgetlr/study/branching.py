"""Several budgets from one run: WSD cooldown branches and WSD-S (arXiv 2410.05192).

Budgets ``T_1 < ... < T_k`` share one warmup of ``W`` steps. Three ways to get a model at each:

* **separate**: one WSD run per budget, decaying over its last ``D_i = decay * T_i`` steps
  (rounded as every schedule rounds); ``sum T_i`` steps in all;
* **branches**: one run at the stable LR; at ``T_i - D_i`` a copy takes that decay (the branch)
  and the main run goes on: ``T_k + sum_{i<k} D_i`` steps. With the same batches at the same step
  a branch *is* the separate run, step for step;
* **WSD-S**: one run in segments ``(T_{i-1}, T_i]`` (``T_0 = 0``). Each segment starts at the
  peak LR, from the weights the previous decay left, and decays over its own last
  ``decay * (T_i - T_{i-1})`` steps: a fraction of the segment, as in the WSD-S paper and
  its reference implementation (Levanter's cycle schedule), so no segment starts mid-decay.
  ``T_k`` steps in all, and different models.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from budgetlr.bench.methods import spec_name
from budgetlr.bench.runner import TrialSetup, budget_steps, set_up
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules.base import steps_from_fraction
from budgetlr.schedules.wsd import WSD

RESULTS_FILE = "wsd-s.json"


@dataclass(frozen=True)
class BranchSettings:
    """The WSD of all three ways: the decay's fraction of each budget (or segment) and shape, and
    the warmup's fraction of the smallest budget."""

    decay: float = 0.2
    shape: str = "1-sqrt"
    warmup: float = 0.05


@dataclass(frozen=True)
class BranchRow:
    workload: str
    seed: int
    lr: float
    budget: float
    steps: int
    separate: float
    branch: float
    wsd_s: float
    separate_steps: int
    branch_steps: int
    wsd_s_steps: int


def wsd_spec(decay: float, shape: str, warmup_steps: int) -> str:
    """The sweep's WSD at this decay fraction: a separate run and a segment of WSD-S run exactly
    this schedule, so they round the decay as every schedule does."""
    return f"wsd(decay={decay!r}, shape={shape}, warmup_steps={warmup_steps})"


def decay_steps(total_steps: int, decay: float) -> int:
    return WSD(decay=decay).resolve("decay", total_steps)


def wsd_s_segments(
    steps: list[int], warmup_steps: int, settings: BranchSettings
) -> list[tuple[int, int, str]]:
    """WSD-S's segments for budgets ``steps`` (increasing): ``(first step, end, spec)``, each a WSD
    fitted to the segment's length, only the first with the warmup."""
    starts = [0, *steps[:-1]]
    return [
        (lo, t, wsd_spec(settings.decay, settings.shape, warmup_steps if lo == 0 else 0))
        for lo, t in zip(starts, steps, strict=True)
    ]


def measure(
    workload_spec: str,
    budgets: list[float],
    lr: float,
    seed: int,
    settings: BranchSettings = BranchSettings(),
) -> list[BranchRow]:
    """Train the three ways for one seed; the warmup is ``settings.warmup`` of the smallest budget.
    A run whose loss stops being finite scores NaN at every budget it reaches after that."""

    from budgetlr.bench.loop import train
    from budgetlr.bench.methods import method
    from budgetlr.torch import BudgetScheduler

    full_budget = resolve_workload(workload_spec).full_budget
    budget_of = {budget_steps(full_budget, b): b for b in budgets}
    steps = sorted(budget_of)
    warmup_steps = steps_from_fraction(settings.warmup, steps[0])
    spec = wsd_spec(settings.decay, settings.shape, warmup_steps)
    decay_start = {t: t - decay_steps(t, settings.decay) for t in steps}

    def fresh() -> TrialSetup:
        return set_up(workload_spec, budget_of[steps[-1]], method(spec), lr, seed)

    def train_span(setup: TrialSetup, scheduler: BudgetScheduler, start: int, stop: int) -> bool:
        """Train steps ``start`` to ``stop``; False when the run diverged."""
        run = train(
            setup.model,
            setup.optimizer,
            setup.workload.loss,
            setup.batches(start),
            range(start, stop),
            scheduler=scheduler,
        )
        return not run.diverged

    def test(setup: TrialSetup, finite: bool) -> float:
        value = setup.workload.evaluate(setup.model, "test") if finite else math.nan
        return value if math.isfinite(value) else math.nan

    separate = {}
    for t in steps:
        setup = fresh()
        separate[t] = test(setup, train_span(setup, BudgetScheduler(setup.optimizer, spec, t), 0, t))

    branch = {}
    main = fresh()
    stable_run = BudgetScheduler(main.optimizer, spec, steps[-1])
    done, stable = 0, True
    for t in steps:
        stable = stable and train_span(main, stable_run, done, decay_start[t])
        done = decay_start[t]
        model = copy.deepcopy(main.model)
        optimizer = main.workload.make_optimizer(model.parameters(), lr)
        optimizer.load_state_dict(copy.deepcopy(main.optimizer.state_dict()))
        cooldown = BudgetScheduler(optimizer, spec, steps[-1])
        cooldown.load_state_dict(stable_run.state_dict())
        cooldown.cooldown(t - decay_start[t], settings.shape)
        branching = replace(main, model=model, optimizer=optimizer)
        branch[t] = test(branching, stable and train_span(branching, cooldown, decay_start[t], t))

    wsd_s = {}
    setup, finite = fresh(), True
    for lo, t, segment in wsd_s_segments(steps, warmup_steps, settings):
        finite = finite and train_span(setup, BudgetScheduler(setup.optimizer, segment, t - lo), lo, t)
        wsd_s[t] = test(setup, finite)

    branch_steps = steps[-1] + sum(t - decay_start[t] for t in steps[:-1])
    totals = (sum(steps), branch_steps, steps[-1])
    rows = [(budget_of[t], t, separate[t], branch[t], wsd_s[t]) for t in steps]
    return [BranchRow(str(main.workload), seed, lr, *row, *totals) for row in rows]


def tuned_wsd_lr(out: Path, workload: str, budget: float) -> float | None:
    """The peak LR a stored sweep in ``out`` tuned for ``workload``'s WSD at ``budget``, if any."""
    from budgetlr.bench.store import DB_NAME, Store
    from budgetlr.study.analysis import cells, on_grid

    if not (out / DB_NAME).is_file():
        return None
    with Store.existing(out) as store:
        mine = [
            t
            for t in on_grid(store.trials())[0]
            if t.workload == workload and t.budget == budget and spec_name(t.schedule) == "wsd"
        ]
    tuned = [c.tuned_lr for c in cells(mine) if c.tuned_lr is not None]
    return tuned[0] if tuned else None


def save_rows(out: Path, rows: list[BranchRow]) -> Path:
    """Add ``rows`` to ``out/wsd-s.json``; they replace earlier rows of the same workload and seed."""
    path = Path(out) / RESULTS_FILE
    fresh = {(r.workload, r.seed) for r in rows}
    kept = [r for r in load_rows(out) if (r.workload, r.seed) not in fresh]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in kept + rows], indent=1))
    return path


def load_rows(out: Path) -> list[BranchRow]:
    path = Path(out) / RESULTS_FILE
    return [BranchRow(**row) for row in json.loads(path.read_text())] if path.is_file() else []
