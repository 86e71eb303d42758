"""transformers: a budgetlr scheduler for ``Trainer(optimizers=(optimizer, scheduler))``, with the
budget and warmup taken from ``TrainingArguments`` as the Trainer itself computes them.

    args = TrainingArguments("out", num_train_epochs=3, per_device_train_batch_size=8, warmup_steps=0.05)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4)
    scheduler = make_scheduler(optimizer, "uba(phi=0.5)", args, train_examples=len(train_dataset))
    trainer = Trainer(model, args, train_dataset=train_dataset, optimizers=(optimizer, scheduler))

``resume_from_checkpoint`` restores the scheduler exactly (its state is plain data).

A budget in tokens or time: a :class:`~budgetlr.torch.BudgetScheduler` with ``budget=`` and
:class:`BudgetCallback`, which feeds it the Trainer's ``num_input_tokens_seen`` and stops the
run when the budget is spent, the LR at its floor:

    args = TrainingArguments("out", max_steps=10**9, include_num_input_tokens_seen=True, ...)
    scheduler = BudgetScheduler(optimizer, "cosine(warmup=0.05)", budget="2e9 tokens")  # or "3h"
    trainer = Trainer(model, args, train_dataset=data, optimizers=(optimizer, scheduler),
                      callbacks=[BudgetCallback(scheduler)])
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

from torch.optim import Optimizer

from budgetlr.integrations import require
from budgetlr.schedules import Schedule, parse
from budgetlr.torch import BudgetScheduler

transformers = require("transformers", "hf", "budgetlr.integrations.transformers")


def training_steps(args: Any, train_examples: int | None = None) -> int:
    """The Trainer's number of optimizer steps: ``max_steps`` when set, else epochs x update steps
    per epoch, computed like ``Trainer.set_initial_training_values`` (batches per process,
    gradient accumulation, ``dataloader_drop_last``)."""
    if args.max_steps > 0:
        return int(args.max_steps)
    if train_examples is None:
        raise ValueError("with max_steps unset, give train_examples (the training set's size)")
    per_process = math.ceil(train_examples / max(1, args.world_size))
    batch = args.train_batch_size
    batches = per_process // batch if args.dataloader_drop_last else math.ceil(per_process / batch)
    accumulation = args.gradient_accumulation_steps
    updates = max(batches // accumulation + int(batches % accumulation > 0), 1)
    return math.ceil(args.num_train_epochs * updates)


def make_scheduler(
    optimizer: Optimizer,
    spec: str | Mapping[str, Any] | Schedule,
    args: Any,
    train_examples: int | None = None,
    *,
    on_budget_change: str | None = None,
) -> BudgetScheduler:
    """A :class:`~budgetlr.torch.BudgetScheduler` over the Trainer's steps. A spec without a warmup
    takes the arguments' ``warmup_steps`` (steps, or a ratio below 1) in steps."""
    total_steps = training_steps(args, train_examples)
    schedule = parse(spec)
    warmup = args.get_warmup_steps(total_steps)
    if schedule.warmup is None and schedule.warmup_steps is None and warmup > 0:
        schedule = dataclasses.replace(schedule, warmup_steps=warmup)
    return BudgetScheduler(optimizer, schedule, total_steps, on_budget_change=on_budget_change)


class BudgetCallback(transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    """Runs a :class:`~budgetlr.torch.BudgetScheduler` with a budget in tokens or time inside
    the Trainer: counts each optimizer step's tokens from ``state.num_input_tokens_seen`` (set
    ``TrainingArguments(include_num_input_tokens_seen=True)``, or ``"non_padding"``), and stops
    training once the scheduler is :attr:`~budgetlr.torch.BudgetScheduler.finished`. A time
    budget counts from the start of training (``on_train_begin``). Give the Trainer a
    ``max_steps`` (or epochs) beyond the budget: this callback ends the run."""

    def __init__(self, scheduler: BudgetScheduler) -> None:
        if scheduler.budget.unit == "samples":
            raise ValueError(
                "the Trainer counts tokens, not samples: give the budget in tokens, steps or time"
            )
        self.scheduler = scheduler

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.scheduler.deadline is not None and self.scheduler.last_epoch == 0:
            self.scheduler.deadline.start()  # a time budget counts from here, as Lightning's max_time
        if self.scheduler.budget.unit == "tokens" and args.include_num_input_tokens_seen == "no":
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
