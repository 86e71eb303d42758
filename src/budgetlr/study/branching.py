"""Several budgets from one run: WSD cooldown branches and WSD-S (arXiv 2410.05192).

Budgets ``T_1 < ... < T_k`` share one warmup of ``W`` steps. Three ways to get a model at each:

* **separate**: one WSD run per budget, decaying over its last ``D_i = round(decay * T_i)``
  steps; ``sum T_i`` steps in all;
* **branches**: one run at the stable LR; at ``T_i - D_i`` a copy takes that decay (the branch)
  and the main run goes on: ``T_k + sum_{i<k} D_i`` steps. With the same batches at the same step
  a branch *is* the separate run, step for step;
* **WSD-S**: one run in segments ``(T_{i-1}, T_i]`` (``T_0 = 0``). Each segment starts at the
  peak LR, from the weights the previous decay left, and decays over its own last
  ``round(decay * (T_i - T_{i-1}))`` steps: a fraction of the segment, as in the WSD-S paper and
  its reference implementation (Levanter's cycle schedule), so no segment starts mid-decay.
  ``T_k`` steps in all, and different models.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from budgetlr.bench.runner import budget_steps
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules import schedule
from budgetlr.schedules.base import FloatArray

RESULTS_FILE = "wsd-s.json"


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


def decay_steps(total_steps: int, decay: float) -> int:
    return max(1, round(decay * total_steps))


def wsd_multipliers(total_steps: int, warmup_steps: int, decay: int, shape: str) -> FloatArray:
    spec = f"wsd(decay_steps={decay}, shape={shape}, warmup_steps={warmup_steps})"
    return schedule(spec, total_steps).multiplier(np.arange(total_steps))


def wsd_s_multipliers(steps: list[int], warmup_steps: int, decay: float, shape: str) -> np.ndarray:
    """The WSD-S multiplier of every step up to ``steps[-1]`` for budgets ``steps`` (increasing):
    one WSD curve per segment, fitted to the segment's length; only the first has the warmup."""
    segments = []
    for lo, t in zip([0, *steps[:-1]], steps, strict=True):
        length = t - lo
        warmup = warmup_steps if lo == 0 else 0
        segments.append(wsd_multipliers(length, warmup, decay_steps(length, decay), shape))
    return np.concatenate(segments)


def measure(
    workload_spec: str,
    budgets: list[float],
    lr: float,
    seed: int,
    decay: float = 0.2,
    shape: str = "1-sqrt",
    warmup: float = 0.05,
) -> list[BranchRow]:
    """Train the three ways for one seed; the warmup is ``warmup`` of the smallest budget. A run
    whose loss stops being finite scores NaN at every budget it reaches after that."""
    import torch

    from budgetlr.bench.loop import train

    workload = resolve_workload(workload_spec)
    workload.prepare()
    steps = sorted({budget_steps(workload.full_budget, b) for b in budgets})
    budget_of = {budget_steps(workload.full_budget, b): b for b in budgets}
    warmup_steps = round(warmup * steps[0])
    decay_start = {t: t - decay_steps(t, decay) for t in steps}
    curves = {t: wsd_multipliers(t, warmup_steps, decay_steps(t, decay), shape) for t in steps}
    batches = list(islice(workload.batches(torch.Generator().manual_seed(seed)), steps[-1]))

    def fresh() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(seed)
        model = workload.build_model().to(workload.device())
        return model, workload.make_optimizer(model.parameters(), lr)

    def train_span(
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        multipliers: FloatArray,
        start: int,
        stop: int,
    ) -> bool:
        """Train steps ``start`` to ``stop``; False when a loss was not finite."""
        run = train(
            model,
            optimizer,
            workload.loss,
            iter(batches[start:stop]),
            range(start, stop),
            lr=lambda t: lr * float(multipliers[t]),
        )
        return not run.diverged

    def test(model: torch.nn.Module, finite: bool) -> float:
        value = workload.evaluate(model, "test") if finite else math.nan
        return value if math.isfinite(value) else math.nan

    separate = {}
    for t in steps:
        model, optimizer = fresh()
        separate[t] = test(model, train_span(model, optimizer, curves[t], 0, t))

    branch = {}
    model, optimizer = fresh()
    done, stable = 0, True
    for t in steps:
        # stable: every curve is 1 here
        stable = stable and train_span(model, optimizer, curves[steps[-1]], done, decay_start[t])
        done = decay_start[t]
        copy_model = copy.deepcopy(model)
        copy_optimizer = workload.make_optimizer(copy_model.parameters(), lr)
        copy_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        branch[t] = test(
            copy_model, stable and train_span(copy_model, copy_optimizer, curves[t], decay_start[t], t)
        )

    wsd_s_curve = wsd_s_multipliers(steps, warmup_steps, decay, shape)
    wsd_s = {}
    model, optimizer = fresh()
    finite = True
    for lo, t in zip([0, *steps[:-1]], steps, strict=True):
        finite = finite and train_span(model, optimizer, wsd_s_curve, lo, t)
        wsd_s[t] = test(model, finite)

    branch_steps = steps[-1] + sum(t - decay_start[t] for t in steps[:-1])
    totals = (sum(steps), branch_steps, steps[-1])
    rows = [(budget_of[t], t, separate[t], branch[t], wsd_s[t]) for t in steps]
    return [BranchRow(str(workload), seed, lr, *row, *totals) for row in rows]


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
