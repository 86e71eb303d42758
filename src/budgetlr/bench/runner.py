"""One trial: a workload trained for a fraction of its full budget under one schedule, LR and seed.

This module imports torch only inside :func:`run_trial`, so a worker process can limit torch to
one thread before torch is first imported (see :func:`budgetlr.bench.sweep.limit_threads`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from budgetlr.bench.workloads.base import Workload

#: The version of what a trial computes from its configuration. Bump it (and say why in
#: CHANGELOG.md) only when the same configuration would give a different result: every trial
#: stored under another value is then run again, and ``budgetlr bench`` says how many and why.
TRIAL_SEMANTICS = 1


@dataclass(frozen=True)
class TrialConfig:
    """Everything that determines a trial's result. ``workload`` and ``schedule`` are spec strings."""

    workload: str
    schedule: str
    budget: float
    lr: float
    seed: int

    def key(self) -> str:
        """The trial's identity: a hash of what determines its result, namely the configuration,
        the workload's data (see :meth:`Workload.data_fingerprint`) and :data:`TRIAL_SEMANTICS`.
        The package version is not part of it: an upgrade keeps every stored trial."""
        return trial_key(self, data_fingerprint(self.workload), TRIAL_SEMANTICS)


def trial_key(config: TrialConfig, data: str, semantics: int) -> str:
    text = json.dumps({**asdict(config), "data": data, "semantics": semantics}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@cache
def data_fingerprint(workload: str) -> str:
    from budgetlr.bench.workloads import resolve_workload

    return resolve_workload(workload).data_fingerprint()


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
    #: Per-step gradient norms of the steps run: ``"l2"``, and ``"l1"`` for Adam-type optimizers.
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    #: What a method measured to set itself up (e.g. the curvature behind ``uba(phi=auto)``).
    notes: dict[str, Any] = field(default_factory=dict)


def budget_steps(full_budget: int, fraction: float) -> int:
    """round(fraction x full budget), at least one step."""
    return max(1, math.floor(fraction * full_budget + 0.5))


def run_trial(config: TrialConfig, source_norms: Sequence[float] | None = None) -> TrialResult:
    """Train and evaluate one trial. Same configuration, same result.

    The curve holds, every ``eval_every`` steps and at the end: the mean training loss since the
    previous point, the validation metric and the LR used by the last step. Every step's gradient
    norm is recorded. A non-finite loss ends the trial early, marked ``diverged``, with no final
    metrics. ``source_norms`` are the gradient norms a ``refined`` trial refines (see
    :mod:`budgetlr.bench.methods`).
    """
    import torch

    from budgetlr.bench.methods import build_schedule, make_optimizer, method
    from budgetlr.bench.workloads import resolve_workload
    from budgetlr.torch import BudgetScheduler

    workload = resolve_workload(config.workload)
    resolved = method(config.schedule)
    workload.prepare()
    steps = budget_steps(workload.full_budget, config.budget)
    device = workload.device()
    torch.manual_seed(config.seed)
    model = workload.build_model().to(device)
    schedule, notes = build_schedule(resolved, workload, model, steps, source_norms)
    optimizer = make_optimizer(resolved, workload, model, config.lr, steps)
    scheduler = BudgetScheduler(optimizer, schedule, steps)
    batches = workload.batches(torch.Generator().manual_seed(config.seed))
    evaluate = evaluator(workload, model, optimizer)
    kinds = ("l2",) if workload.optimizer == "sgd" else ("l2", "l1")
    norms: list[torch.Tensor] = []

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
        norms.append(gradient_norms(model, kinds))
        optimizer.step()
        scheduler.step()
        window.append(loss.detach())
        if (step + 1) % workload.eval_every == 0 or step + 1 == steps:
            train_loss = float(torch.stack(window).mean())
            val = evaluate("val") if step + 1 < steps else None
            curve.append(CurvePoint(step + 1, train_loss, val, lr))
            window = []
    wall_time = time.perf_counter() - start
    done = curve[-1].step if curve else 0
    val_metric = test_metric = None
    if status == "ok":
        val_metric = evaluate("val")
        test_metric = evaluate("test")
        curve[-1] = CurvePoint(curve[-1].step, curve[-1].train_loss, val_metric, curve[-1].lr)
        if not (math.isfinite(val_metric) and math.isfinite(test_metric)):
            status, val_metric, test_metric = "diverged", None, None
    recorded = torch.stack(norms).cpu().T.tolist() if norms else [[] for _ in kinds]
    return TrialResult(
        config,
        done,
        status,
        val_metric,
        test_metric,
        wall_time,
        done / max(wall_time, 1e-9),
        curve,
        dict(zip(kinds, recorded, strict=True)),
        notes,
    )


def gradient_norms(model: torch.nn.Module, kinds: Sequence[str]) -> torch.Tensor:
    """The l2 (and l1) norm of the whole gradient, as a tensor (no device sync per step)."""
    import torch

    grads = [p.grad for p in model.parameters() if p.grad is not None]
    order = {"l2": 2.0, "l1": 1.0}
    return torch.stack([torch.nn.utils.get_total_norm(grads, order[k]) for k in kinds]).float()


def evaluator(
    workload: Workload, model: torch.nn.Module, optimizer: torch.optim.Optimizer
) -> Callable[[str], float]:
    """``evaluate(split)``; schedule-free optimizers swap in their averaged weights for it."""
    to_train: Callable[[], object] | None = getattr(optimizer, "train", None)
    to_eval: Callable[[], object] | None = getattr(optimizer, "eval", None)
    if to_train is not None:
        to_train()

    def evaluate(split: str) -> float:
        if to_eval is not None:
            to_eval()
        try:
            return workload.evaluate(model, split)
        finally:
            if to_train is not None:
                to_train()

    return evaluate
