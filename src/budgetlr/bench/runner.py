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
from typing import TYPE_CHECKING, Any

from budgetlr import __version__
from budgetlr.errors import InvalidInput

if TYPE_CHECKING:
    import torch

    from budgetlr.bench.workloads.base import Workload


#: The largest peak LR a float32 model can hold, and the largest seed SQLite's INTEGER stores.
MAX_LR = 3.4028234663852886e38
MAX_SEED = 2**63 - 1


def check_lr(lr: float, what: str = "peak LR") -> float:
    """``lr`` if a float32 model can train with it (finite, > 0, representable), else raise."""
    if not (math.isfinite(lr) and 0.0 < lr <= MAX_LR):
        raise InvalidInput(f"{what} {lr!r} must be a positive number <= {MAX_LR:.4g} (float32's largest)")
    return lr


def check_seed(seed: int) -> int:
    """``seed`` if the store can hold it (a whole number in [0, 2^63 - 1]), else raise."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InvalidInput(f"seed {seed!r} must be a whole number in [0, {MAX_SEED}]")
    return seed


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
    swaps = hasattr(optimizer, "eval") and hasattr(optimizer, "train")
    if swaps:
        optimizer.train()

    def evaluate(split: str) -> float:
        if swaps:
            optimizer.eval()
        try:
            return workload.evaluate(model, split)
        finally:
            if swaps:
                optimizer.train()

    return evaluate
