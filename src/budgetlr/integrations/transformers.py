"""transformers: budgetlr schedules in the ``Trainer``, the budget taken from the Trainer itself.

The HF-native way: mix :class:`BudgetScheduleMixin` into the Trainer class and give a spec. The
Trainer builds its own optimizer (``optim=``, weight-decay groups) and passes its own step count
to ``create_scheduler``, so the budget is exact in every transformers version:

    class BudgetTrainer(BudgetScheduleMixin, Trainer):
        pass

    trainer = BudgetTrainer(model, args, train_dataset=data, schedule="uba(phi=0.5, warmup=0.05)")

With an optimizer built by hand, :func:`make_scheduler` computes the step count from
``TrainingArguments`` for ``Trainer(optimizers=(optimizer, scheduler))``. Either way
``resume_from_checkpoint`` restores the scheduler exactly (its state is plain data).

Warmup is given once: in the spec, or by ``warmup_steps`` / ``warmup_ratio`` in the arguments
(then used in steps), never both. budgetlr's warmup ramps ``(t + 1) / (W + 1)``; the Trainer's
own schedulers ramp ``t / W`` from LR 0 at step 0. After the warmup the curves are the same.

A budget in tokens or time: a :class:`~budgetlr.torch.BudgetScheduler` with ``budget=`` and
:class:`BudgetCallback`, which feeds it the Trainer's ``num_input_tokens_seen`` and stops the
run when the budget is spent, the LR at its floor:

    args = TrainingArguments("out", max_steps=10**9, include_num_input_tokens_seen=True, ...)
    scheduler = BudgetScheduler(optimizer, "cosine(warmup=0.05)", budget="2e9 tokens")  # or "3h"
    trainer = Trainer(model, args, train_dataset=data, optimizers=(optimizer, scheduler),
                      callbacks=[BudgetCallback(scheduler)])

:class:`RecordRun` records any run (with any scheduler) for ``budgetlr plan fit``.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from budgetlr.integrations import require

transformers = require("transformers", "hf", "budgetlr.integrations.transformers")

from torch.optim import Optimizer  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from budgetlr.recording import RunRecorder  # noqa: E402
from budgetlr.schedules import Schedule, parse  # noqa: E402
from budgetlr.schedules.budget import BudgetUnit  # noqa: E402
from budgetlr.schedules.plans import BudgetPolicy  # noqa: E402
from budgetlr.torch import BudgetScheduler  # noqa: E402


def training_steps(args: Any, train_examples: int | None = None) -> int:
    """The Trainer's number of optimizer steps: ``max_steps`` when set, else epochs x update steps
    per epoch, computed like ``Trainer.set_initial_training_values`` (batches per process,
    gradient accumulation with a partial last group counted as a step, ``dataloader_drop_last``)."""
    if args.max_steps > 0:
        return int(args.max_steps)
    if train_examples is None:
        raise ValueError("with max_steps unset, give train_examples (the training set's size)")
    per_process = math.ceil(train_examples / max(1, args.world_size))
    batch = args.train_batch_size
    batches = per_process // batch if args.dataloader_drop_last else math.ceil(per_process / batch)
    accumulation = args.gradient_accumulation_steps
    updates: int = max(batches // accumulation + int(batches % accumulation > 0), 1)
    return math.ceil(float(args.num_train_epochs) * updates)


def asks_for_warmup(args: Any) -> bool:
    """Whether the arguments ask for a warmup (``warmup_ratio`` exists before transformers 5)."""
    return args.warmup_steps > 0 or getattr(args, "warmup_ratio", 0.0) > 0


def with_warmup(spec: str | Mapping[str, Any] | Schedule, args: Any, total_steps: int) -> Schedule:
    """``spec`` with the arguments' warmup in steps when it has none of its own; both is an error."""
    schedule = parse(spec)
    if schedule.warmup is not None or schedule.warmup_steps is not None:
        if asks_for_warmup(args):
            raise ValueError(
                f"give the warmup once: the spec {schedule} has its own warmup and TrainingArguments "
                f"has warmup_steps={args.warmup_steps!r}, warmup_ratio={getattr(args, 'warmup_ratio', 0.0)!r}"
            )
        return schedule
    warmup = args.get_warmup_steps(total_steps)
    return dataclasses.replace(schedule, warmup_steps=warmup) if warmup > 0 else schedule


def make_scheduler(
    optimizer: Optimizer,
    spec: str | Mapping[str, Any] | Schedule,
    args: Any,
    train_examples: int | None = None,
    *,
    on_budget_change: BudgetPolicy | None = None,
) -> BudgetScheduler:
    """A :class:`~budgetlr.torch.BudgetScheduler` over the Trainer's steps. A spec without a warmup
    takes the arguments' ``warmup_steps`` / ``warmup_ratio`` in steps."""
    total_steps = training_steps(args, train_examples)
    schedule = with_warmup(spec, args, total_steps)
    return BudgetScheduler(optimizer, schedule, total_steps, on_budget_change=on_budget_change)


class BudgetScheduleMixin:
    """Put before ``transformers.Trainer`` (or any subclass of it) in a class's bases; the class
    then takes ``schedule=`` (a spec) and ``on_budget_change=`` and schedules the Trainer's own
    optimizer with a :class:`~budgetlr.torch.BudgetScheduler` over the Trainer's own step count.
    The arguments' ``lr_scheduler_type`` is not used."""

    args: Any
    optimizer: Any
    lr_scheduler: Any

    def __init__(
        self,
        *args: Any,
        schedule: str | Mapping[str, Any] | Schedule,
        on_budget_change: BudgetPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.budget_schedule = parse(schedule)
        self.on_budget_change = on_budget_change
        with_warmup(self.budget_schedule, self.args, 1)  # a warmup given twice fails here, before training

    def create_scheduler(self, num_training_steps: int, optimizer: Optimizer | None = None) -> LRScheduler:
        if self.lr_scheduler is None:
            schedule = with_warmup(self.budget_schedule, self.args, num_training_steps)
            self.lr_scheduler = BudgetScheduler(
                self.optimizer if optimizer is None else optimizer,
                schedule,
                num_training_steps,
                on_budget_change=self.on_budget_change,
            )
            self._created_lr_scheduler = True
        scheduler: LRScheduler = self.lr_scheduler
        return scheduler


class BudgetCallback(transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    """Runs a :class:`~budgetlr.torch.BudgetScheduler` with a budget in tokens or time inside
    the Trainer: counts each optimizer step's tokens from ``state.num_input_tokens_seen`` (set
    ``TrainingArguments(include_num_input_tokens_seen=True)``, or ``"non_padding"``), and stops
    training once the scheduler is :attr:`~budgetlr.torch.BudgetScheduler.finished`. A time
    budget counts from the start of training (``on_train_begin``). Give the Trainer a
    ``max_steps`` (or epochs) beyond the budget: this callback ends the run."""

    def __init__(self, scheduler: BudgetScheduler) -> None:
        if scheduler.budget.unit is BudgetUnit.SAMPLES:
            raise ValueError(
                "the Trainer counts tokens, not samples: give the budget in tokens, steps or time"
            )
        self.scheduler = scheduler

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.scheduler.deadline is not None and self.scheduler.last_epoch == 0:
            self.scheduler.deadline.start()  # a time budget counts from here, as Lightning's max_time
        # Off is "no" in transformers 5 and False before it.
        counted = args.include_num_input_tokens_seen not in (False, "no")
        if self.scheduler.budget.unit is BudgetUnit.TOKENS and not counted:
            raise ValueError(
                f"the budget is {self.scheduler.budget}: set TrainingArguments(include_num_input_tokens_seen=True) "
                "so that the Trainer counts them"
            )

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        consumption = self.scheduler.consumption
        if consumption is not None:
            self.scheduler.report(tokens=state.num_input_tokens_seen - consumption.consumed)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.scheduler.finished:
            control.should_training_stop = True


class RecordRun(transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    """Records the run in ``path`` as ``budgetlr plan fit`` reads it (``step,lr,loss``): every
    optimizer step's LR (first param group), and the loss the Trainer logs every
    ``logging_steps``, the mean over those steps, in the row of the last of them, as the
    Trainer's own log history has it. It reads nothing the Trainer does not already read: log
    often enough for the fit (``logging_steps`` at most about 1% of the run). A run resumed from a
    checkpoint keeps the file's rows before the checkpoint's step and replaces the rest."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self.recorder: RunRecorder | None = None
        self._row: tuple[int, float] | None = None
        self._loss: float | None = None

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self.recorder = RunRecorder(self.path, max(1, int(state.logging_steps or 1)))

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._write_row()  # the previous step's: its logged loss came after its step ended
        self._row = (state.global_step, float(kwargs["optimizer"].param_groups[0]["lr"]))

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if self._row is not None and logs and "loss" in logs and self._row[0] == state.global_step - 1:
            self._loss = float(logs["loss"])

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._write_row()
        if self.recorder is not None:
            self.recorder.flush()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._write_row()
        if self.recorder is not None:
            self.recorder.close()

    def _write_row(self) -> None:
        if self._row is not None and self.recorder is not None:
            self.recorder.record(*self._row, self._loss)
        self._row, self._loss = None, None
