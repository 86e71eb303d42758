"""Several budgets from one run: WSD cooldown branches and WSD-S (arXiv 2410.05192).

Budgets ``T_1 < ... < T_k`` share one warmup of ``W`` steps and a decay of the last ``D_i`` steps
of each budget (``D_i = round(decay * T_i)``, WSD's shape). Three ways to get a model at each:

* **separate**: one WSD run per budget, ``sum T_i`` steps in all;
* **branches**: one run at the stable LR; at ``T_i - D_i`` a copy takes the decay (the branch) and
  the main run goes on: ``T_k + sum_{i<k} D_i`` steps. With the same batches at the same step a
  branch *is* the separate run, step for step;
* **WSD-S**: one run that decays to reach each ``T_i``, then goes back to the peak LR *from the
  decayed weights*: ``T_k`` steps in all, and different models.
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


def wsd_multipliers(total_steps: int, warmup_steps: int, decay: int, shape: str) -> np.ndarray:
    spec = f"wsd(decay_steps={decay}, shape={shape}, warmup_steps={warmup_steps})"
    return schedule(spec, total_steps).multiplier(np.arange(total_steps))


def measure(
    workload_spec: str,
    budgets: list[float],
    lr: float,
    seed: int,
    decay: float = 0.2,
    shape: str = "1-sqrt",
    warmup: float = 0.05,
) -> list[BranchRow]:
    """Train the three ways for one seed; the warmup is ``warmup`` of the smallest budget."""
    import torch

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

    def train(model, optimizer, multipliers, start: int, stop: int) -> None:
        for t in range(start, stop):
            for group in optimizer.param_groups:
                group["lr"] = lr * float(multipliers[t])
            loss = workload.loss(model, batches[t])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    def test(model) -> float:
        value = workload.evaluate(model, "test")
        return value if math.isfinite(value) else math.nan

    separate = {}
    for t in steps:
        model, optimizer = fresh()
        train(model, optimizer, curves[t], 0, t)
        separate[t] = test(model)

    branch = {}
    model, optimizer = fresh()
    done = 0
    for t in steps:
        train(model, optimizer, curves[steps[-1]], done, decay_start[t])  # stable: every curve is 1 here
        done = decay_start[t]
        copy_model = copy.deepcopy(model)
        copy_optimizer = workload.make_optimizer(copy_model.parameters(), lr)
        copy_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
        train(copy_model, copy_optimizer, curves[t], decay_start[t], t)
        branch[t] = test(copy_model)

    wsd_s_curve = np.concatenate(
        [curves[t][lo:t] for lo, t in zip([0, *steps[:-1]], steps, strict=True)]
    )  # each segment stable, then that budget's decay; back to the peak after it
    wsd_s = {}
    model, optimizer = fresh()
    for lo, t in zip([0, *steps[:-1]], steps, strict=True):
        train(model, optimizer, wsd_s_curve, lo, t)
        wsd_s[t] = test(model)

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
