"""One trial: a workload trained for a fraction of its full budget under one schedule, LR and seed.

This module imports torch only inside :func:`run_trial`, so a worker process can limit torch to
one thread before torch is first imported (see :func:`budgetlr.bench.executors.limit_threads`).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from functools import cache
from itertools import islice
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from budgetlr.bench.database import Status
from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import steps_from_fraction
from budgetlr.spec import split_spec

if TYPE_CHECKING:
    import torch

    from budgetlr.bench.loop import Run
    from budgetlr.bench.methods import Method
    from budgetlr.bench.workloads.base import Batch, Evaluation, Workload

T = TypeVar("T")

#: The version of what a trial computes from its configuration. Bump it (and say why in
#: CHANGELOG.md) only when the same configuration would give a different result: every trial
#: stored under another value is then run again, and ``budgetlr bench`` says how many and why.
TRIAL_SEMANTICS = 3


#: The smallest and the largest peak LR a float32 model can hold (its smallest positive number,
#: a subnormal, and its largest), and the largest seed SQLite's INTEGER stores.
MIN_LR = 1.401298464324817e-45
MAX_LR = 3.4028234663852886e38
MAX_SEED = 2**63 - 1


def check_lr(lr: float, what: str = "peak LR") -> float:
    """``lr`` if a float32 model can train with it (finite, > 0 in float32, representable), else raise."""
    if not (math.isfinite(lr) and MIN_LR <= lr <= MAX_LR):
        raise InvalidInput(
            f"{what} {lr!r} must be a positive number in [{MIN_LR:.4g}, {MAX_LR:.4g}], float32's smallest and largest"
        )
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
        """The trial's identity: a hash of what determines its result, namely the configuration,
        the workload's data (see :meth:`Workload.data_fingerprint`) and :data:`TRIAL_SEMANTICS`.
        The package version is not part of it: an upgrade keeps every stored trial."""
        return trial_key(self, data_fingerprint(self.workload), TRIAL_SEMANTICS, chosen_by(self.schedule))


def trial_key(config: TrialConfig, data: str, semantics: int, rule: str | None = None) -> str:
    fields = {**asdict(config), "data": data, "semantics": semantics}
    text = json.dumps(fields if rule is None else {**fields, "rule": rule}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def chosen_by(schedule: str) -> str | None:
    """The rule that sets what ``schedule`` leaves to budgetlr (``uba(phi=auto)``'s phi rule), part
    of its trials' identity so that a trial made under another rule is not reused; None for a
    spec that leaves nothing to a rule."""
    name, args = split_spec(schedule)
    if name != "uba" or args.get("phi") != "auto":
        return None
    from budgetlr.adaptive.phi import rule_text

    return rule_text()


@cache
def data_fingerprint(workload: str) -> str:
    from budgetlr.bench.workloads import resolve_workload

    return resolve_workload(workload).data_fingerprint()


#: The fewest points of a trial's training-loss curve (window means) and of its validation curve:
#: enough for the planner's loss-curve laws and to see a curve's shape.
TRAIN_POINTS = 100
VAL_POINTS = 20


@dataclass(frozen=True)
class CurvePoint:
    """A point of a trial's curve, after ``step`` steps: the mean training loss of the steps since
    the previous point that has one (None at a validation-only point), the validation metric and
    loss where the model was validated there, and the LR of the last step trained (of the first
    step at step 0)."""

    step: int
    train_loss: float | None
    val_metric: float | None
    lr: float
    val_loss: float | None = None


@dataclass
class TrialResult:
    config: TrialConfig
    steps: int
    status: Status
    val_metric: float | None
    test_metric: float | None
    wall_time: float
    steps_per_second: float
    curve: list[CurvePoint] = field(default_factory=list)
    #: Per-step gradient norms of the steps run, linear-decay trials only: ``"l2"`` for SGD,
    #: ``"l1"`` for Adam-type optimizers.
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    #: What a method measured to set itself up (e.g. the curvature behind ``uba(phi=auto)``).
    notes: dict[str, Any] = field(default_factory=dict)
    #: Seconds spent evaluating; ``wall_time`` is training and evaluation together.
    eval_time: float = 0.0
    #: Held-out losses (the study's primary measure; None where the workload defines none or the
    #: trial diverged) and the test loss's standard error over held-out examples or sequences.
    val_loss: float | None = None
    test_loss: float | None = None
    test_loss_se: float | None = None


def check_budget(fraction: float) -> float:
    """``fraction`` if it is a fraction of the full budget in (0, 1], else raise."""
    if not (math.isfinite(fraction) and 0.0 < fraction <= 1.0):
        raise InvalidInput(f"budget {fraction!r} must be a fraction of the full budget in (0, 1]")
    return fraction


def budget_steps(full_budget: int, fraction: float) -> int:
    """The steps of a ``fraction`` of the full budget, by the schedules' one rounding rule
    (:func:`~budgetlr.schedules.base.steps_from_fraction`), at least one step."""
    return max(1, steps_from_fraction(fraction, full_budget))


@dataclass
class TrialSetup:
    """A workload ready to train: its model, freshly initialised from the seed, its optimizer and
    the seed's stream of batches. A trial, a PBT member and a WSD branch all start from this."""

    workload: Workload
    steps: int
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    seed: int

    def batches(self, start: int = 0) -> Iterator[Batch]:
        """The seed's batches from step ``start`` on: every run of one seed sees the same batch at
        the same step, whatever its schedule or LR and wherever it resumed."""
        import torch

        return islice(self.workload.batches(torch.Generator().manual_seed(self.seed)), start, None)


def set_up(workload_spec: str, budget: float, resolved: Method, lr: float, seed: int) -> TrialSetup:
    """Resolve and prepare the workload, seed torch, build the model on the workload's device and
    the optimizer of ``resolved`` (:func:`~budgetlr.bench.methods.make_optimizer`)."""
    import torch

    from budgetlr.bench.methods import make_optimizer
    from budgetlr.bench.workloads import resolve_workload

    workload = resolve_workload(workload_spec)
    workload.prepare()
    steps = budget_steps(workload.full_budget, budget)
    torch.manual_seed(seed)
    model = workload.build_model().to(workload.device())
    return TrialSetup(workload, steps, model, make_optimizer(resolved, workload, model, lr, steps), seed)


def run_trial(config: TrialConfig, source_norms: Sequence[float] | None = None) -> TrialResult:
    """Train and evaluate one trial. Same configuration, same result.

    The curve (:func:`curve_of`) holds at least :data:`TRAIN_POINTS` window means of the training
    loss, starting with the first step's alone, and at least :data:`VAL_POINTS` validations
    (:meth:`Workload.validate`), the first before training. A linear-decay trial
    records its gradient norm at every step
    (:func:`~budgetlr.bench.methods.records_gradient_norms`). A non-finite loss ends the trial
    early, marked ``diverged``, with no final metrics. The final evaluation
    (:meth:`Workload.held_out`) reads the whole validation and test splits and records the task
    metric and the held-out loss of each. ``source_norms`` are the gradient norms a ``refined``
    trial refines (see :mod:`budgetlr.bench.methods`). Steps per second count training time only;
    the time spent evaluating is ``eval_time``.
    """
    from budgetlr.bench.loop import train
    from budgetlr.bench.methods import build_schedule, method, records_gradient_norms
    from budgetlr.torch import BudgetScheduler

    resolved = method(config.schedule)
    setup = set_up(config.workload, config.budget, resolved, config.lr, config.seed)
    workload, steps, model, optimizer = setup.workload, setup.steps, setup.model, setup.optimizer
    schedule, notes = build_schedule(resolved, workload, model, steps, source_norms)
    scheduler = BudgetScheduler(optimizer, schedule, steps)
    at_eval_weights = evaluator(optimizer)
    clock = time.perf_counter()
    initial = at_eval_weights(lambda: workload.validate(model))
    initial_seconds = time.perf_counter() - clock
    run = train(
        model,
        optimizer,
        workload.loss,
        setup.batches(),
        range(steps),
        scheduler=scheduler,
        norms=(workload.refinement.norm,) if records_gradient_norms(resolved) else (),
        evaluate=lambda: at_eval_weights(lambda: workload.validate(model)),
        eval_every=max(1, steps // VAL_POINTS),
    )
    status: Status = "diverged" if run.diverged else "ok"
    clock = time.perf_counter()
    val = test = None
    if status == "ok":
        val = at_eval_weights(lambda: workload.held_out(model, "val"))
        test = at_eval_weights(lambda: workload.held_out(model, "test"))
        if not (finite(val) and finite(test)):
            status, val, test = "diverged", None, None
    eval_time = initial_seconds + run.eval_seconds + time.perf_counter() - clock
    validations = [(0, initial), *run.evaluations, *([(steps, val)] if val is not None else [])]
    curve = curve_of(run, steps, validations)
    done = curve[-1].step if curve else 0
    return TrialResult(
        config,
        done,
        status,
        None if val is None else val.metric,
        None if test is None else test.metric,
        run.train_seconds + eval_time,
        done / max(run.train_seconds, 1e-9),
        curve,
        run.grad_norms,
        notes,
        eval_time,
        None if val is None else val.loss,
        None if test is None else test.loss,
        None if test is None else test.loss_se,
    )


def finite(evaluation: Evaluation) -> bool:
    """A metric, and a loss where there is one, that are finite numbers."""
    values = [evaluation.metric] if evaluation.loss is None else [evaluation.metric, evaluation.loss]
    return all(math.isfinite(v) for v in values)


def curve_of(run: Run, steps: int, validations: Sequence[tuple[int, Evaluation]]) -> list[CurvePoint]:
    """The curve's points: the training loss's window means, of the first step alone and then of
    windows of ``steps // TRAIN_POINTS`` steps (one step for a shorter run) up to the last step
    trained; the ``validations`` (steps done, evaluation); and the step that diverged (its loss
    infinite)."""
    window = max(1, steps // TRAIN_POINTS)
    ends = sorted({1, *range(window, steps, window), steps} & set(range(1, run.steps + 1)))
    losses = np.cumsum([0.0, *run.losses])
    train = {
        end: float(losses[end] - losses[start]) / (end - start)
        for start, end in zip([0, *ends], ends, strict=False)
    }
    validated = dict(validations)
    if run.diverged_at is not None:
        train[run.diverged_at + 1] = math.inf
    points = []
    for step in sorted({*train, *validated}):
        evaluation = validated.get(step)
        points.append(
            CurvePoint(
                step,
                train.get(step),
                None if evaluation is None else evaluation.metric,
                run.lrs[max(step, 1) - 1],
                None if evaluation is None else evaluation.loss,
            )
        )
    return points


def evaluator(optimizer: torch.optim.Optimizer) -> Callable[[Callable[[], T]], T]:
    """``at_eval_weights(f)``: ``f()`` with a schedule-free optimizer's averaged weights swapped
    in, and its training weights back afterwards; plain optimizers run ``f()`` as it is."""
    to_train: Callable[[], object] | None = getattr(optimizer, "train", None)
    to_eval: Callable[[], object] | None = getattr(optimizer, "eval", None)
    if to_train is not None:
        to_train()

    def at_eval_weights(evaluate: Callable[[], T]) -> T:
        if to_eval is not None:
            to_eval()
        try:
            return evaluate()
        finally:
            if to_train is not None:
                to_train()

    return at_eval_weights
