"""One trial: a workload trained for a fraction of its full budget under one schedule, LR and seed.

This module imports torch only inside :func:`run_trial`, so a worker process can limit torch to
one thread before torch is first imported (see :func:`budgetlr.bench.sweep.limit_threads`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field

from budgetlr import __version__


@dataclass(frozen=True)
class TrialConfig:
    """Everything that determines a trial's result. ``workload`` and ``schedule`` are spec strings."""

    workload: str
    schedule: str
    budget: float
    lr: float
    seed: int

    def key(self) -> str:
        """A hash of the full configuration and the package version: the trial's identity."""
        text = json.dumps({**asdict(self), "version": __version__}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class CurvePoint:
    step: int
    train_loss: float
    val_metric: float | None
    lr: float


@dataclass
class TrialResult:
    config: TrialConfig
    steps: int
    status: str  # "ok" or "diverged"
    val_metric: float | None
    test_metric: float | None
    wall_time: float
    steps_per_second: float
    curve: list[CurvePoint] = field(default_factory=list)


def budget_steps(full_budget: int, fraction: float) -> int:
    """round(fraction x full budget), at least one step."""
    return max(1, math.floor(fraction * full_budget + 0.5))


def run_trial(config: TrialConfig) -> TrialResult:
    """Train and evaluate one trial. Same configuration, same result.

    The curve holds, every ``eval_every`` steps and at the end: the mean training loss since the
    previous point, the validation metric and the LR used by the last step. A non-finite loss
    ends the trial early, marked ``diverged``, with no final metrics.
    """
    import torch

    from budgetlr.bench.workloads import resolve_workload
    from budgetlr.torch import BudgetScheduler

    workload = resolve_workload(config.workload)
    workload.prepare()
    steps = budget_steps(workload.full_budget, config.budget)
    device = workload.device()
    torch.manual_seed(config.seed)
    model = workload.build_model().to(device)
    optimizer = workload.make_optimizer(model.parameters(), config.lr)
    scheduler = BudgetScheduler(optimizer, config.schedule, steps)
    batches = workload.batches(torch.Generator().manual_seed(config.seed))

    curve: list[CurvePoint] = []
    window: list[torch.Tensor] = []
    status = "ok"
    start = time.perf_counter()
    for step in range(steps):
        lr = optimizer.param_groups[0]["lr"]
        loss = workload.loss(model, next(batches))
        if not torch.isfinite(loss):
            status = "diverged"
            curve.append(CurvePoint(step + 1, math.inf, None, lr))
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        window.append(loss.detach())
        if (step + 1) % workload.eval_every == 0 or step + 1 == steps:
            train_loss = float(torch.stack(window).mean())
            val = workload.evaluate(model, "val") if step + 1 < steps else None
            curve.append(CurvePoint(step + 1, train_loss, val, lr))
            window = []
    wall_time = time.perf_counter() - start
    done = curve[-1].step if curve else 0
    val_metric = test_metric = None
    if status == "ok":
        val_metric = workload.evaluate(model, "val")
        test_metric = workload.evaluate(model, "test")
        curve[-1] = CurvePoint(curve[-1].step, curve[-1].train_loss, val_metric, curve[-1].lr)
        if not (math.isfinite(val_metric) and math.isfinite(test_metric)):
            status, val_metric, test_metric = "diverged", None, None
    return TrialResult(
        config, done, status, val_metric, test_metric, wall_time, done / max(wall_time, 1e-9), curve
    )
