"""Lightning: the ``configure_optimizers`` dictionary for a budgetlr schedule, stepped per
optimizer step (Lightning's ``interval`` defaults to ``"epoch"``, the most common schedule bug),
with the budget taken from ``trainer.estimated_stepping_batches``.

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=3e-4)
            return configure_optimizers(self, optimizer, "uba(phi=0.5, warmup=0.05)")

Checkpoints resume exactly: Lightning saves and restores the scheduler's ``state_dict``.

With ``Trainer(max_time=...)`` the time is the budget (:func:`max_time_scheduler`): the schedule
is planned to the steps that fit before the deadline, on the Trainer's own clock, so the LR
reaches its floor when Lightning's timer stops the run.

:class:`RecordRun` records any run (with any scheduler) for ``budgetlr plan fit``:

    trainer = lightning.Trainer(max_steps=2000, callbacks=[RecordRun("constant.csv")])
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from typing import Any

from budgetlr.integrations import require

lightning = require("lightning", "lightning", "budgetlr.integrations.lightning")

from torch.optim import Optimizer  # noqa: E402

from budgetlr.recording import RunRecorder  # noqa: E402
from budgetlr.schedules import Schedule  # noqa: E402
from budgetlr.schedules.budget import Budget, BudgetUnit  # noqa: E402
from budgetlr.schedules.plans import BudgetPolicy  # noqa: E402
from budgetlr.torch import BudgetScheduler  # noqa: E402


def configure_optimizers(
    module: Any,
    optimizer: Optimizer,
    spec: str | Mapping[str, Any] | Schedule,
    *,
    total_steps: int | None = None,
    on_budget_change: BudgetPolicy | None = None,
) -> dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns. ``total_steps`` defaults to the
    Trainer's ``max_time`` when set (a time budget; ``max_steps`` or ``max_epochs`` still stop the
    run if they come first), else ``module.trainer.estimated_stepping_batches`` (max_steps, or
    epochs x batches / accumulation); a Trainer without a finite budget (``max_epochs=-1``, or an
    ``IterableDataset`` without ``max_steps``) is refused in one line saying how to give one."""
    timed = max_time_scheduler(module.trainer, optimizer, spec) if total_steps is None else None
    if timed is not None:
        return step_interval(optimizer, timed)
    if total_steps is None:
        estimated = module.trainer.estimated_stepping_batches
        if not (math.isfinite(estimated) and estimated > 0):
            raise ValueError(
                "a budget-aware schedule needs a finite budget, and this Trainer's is unknown "
                "(max_epochs=-1, or a dataloader without a length): give the Trainer max_steps=N, "
                "or pass total_steps=N to configure_optimizers"
            )
        total_steps = int(estimated)
    scheduler = BudgetScheduler(optimizer, spec, total_steps, on_budget_change=on_budget_change)
    return step_interval(optimizer, scheduler)


def step_interval(optimizer: Optimizer, scheduler: BudgetScheduler) -> dict[str, Any]:
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1, "name": "budgetlr"},
    }


def max_time_scheduler(
    trainer: Any, optimizer: Optimizer, spec: str | Mapping[str, Any] | Schedule
) -> BudgetScheduler | None:
    """A scheduler whose budget is the ``trainer``'s ``max_time``, timed by the Trainer's own
    ``Timer`` (which counts from the start of training and resumes from a checkpoint); ``None``
    when no ``max_time`` is set."""
    timer = next((c for c in trainer.callbacks if type(c).__name__ == "Timer"), None)
    if timer is None or timer.time_remaining() is None:
        return None
    seconds = timer.time_remaining() + timer.time_elapsed()
    return BudgetScheduler(
        optimizer, spec, budget=Budget(seconds, BudgetUnit.SECONDS), clock=timer.time_elapsed
    )


class RecordRun(lightning.Callback):  # type: ignore[misc,name-defined]
    """Records the run in ``path`` as ``budgetlr plan fit`` reads it (``step,lr,loss``): each
    optimizer step's LR (the first optimizer's first param group) and training loss (the sum of
    ``training_step``'s losses over the step's accumulated batches, as Lightning scales them). The
    losses stay on the device until the rows are written, every ``log_every_n_steps`` steps (or
    ``every``), when Lightning reads its own logged values. A run resumed from a checkpoint keeps
    the file's rows before the checkpoint's step and replaces the rest."""

    def __init__(self, path: str | os.PathLike[str], every: int | None = None) -> None:
        self.path, self.every = path, every
        self.recorder: RunRecorder | None = None
        self._step = -1
        self._lr: float | None = None
        self._loss: Any = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.recorder = RunRecorder(self.path, self.every or max(1, trainer.log_every_n_steps))

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if optimizer is trainer.optimizers[0]:
            self._step, self._lr = trainer.global_step, float(optimizer.param_groups[0]["lr"])

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if loss is not None:
            self._loss = loss if self._loss is None else self._loss + loss
        if self._lr is not None and trainer.global_step > self._step and self.recorder is not None:
            self.recorder.record(self._step, self._lr, self._loss)
            self._lr, self._loss = None, None

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: dict[str, Any]) -> None:
        if self.recorder is not None:
            self.recorder.flush()

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder is not None:
            self.recorder.close()
