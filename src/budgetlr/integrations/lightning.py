"""Lightning: the ``configure_optimizers`` dictionary for a budgetlr schedule, stepped per
optimizer step (Lightning's ``interval`` defaults to ``"epoch"``, the most common schedule bug),
with the budget taken from ``trainer.estimated_stepping_batches``.

    class Model(lightning.LightningModule):
        def configure_optimizers(self):
            optimizer = torch.optim.AdamW(self.parameters(), lr=3e-4)
            return configure_optimizers(self, optimizer, "uba(phi=0.5, warmup=0.05)")

Checkpoints resume exactly: Lightning saves and restores the scheduler's ``state_dict``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from torch.optim import Optimizer

from budgetlr.schedules import Schedule
from budgetlr.torch import BudgetScheduler


def configure_optimizers(
    module: Any,
    optimizer: Optimizer,
    spec: str | Mapping[str, Any] | Schedule,
    *,
    total_steps: int | None = None,
    on_budget_change: str | None = None,
) -> dict[str, Any]:
    """What ``LightningModule.configure_optimizers`` returns. ``total_steps`` defaults to
    ``module.trainer.estimated_stepping_batches`` (max_steps, or epochs x batches / accumulation);
    a Trainer without a finite budget (``max_epochs=-1``, or an ``IterableDataset`` without
    ``max_steps``) is refused in one line saying how to give one."""
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
    return {
        "optimizer": optimizer,
        "lr_scheduler": {"scheduler": scheduler, "interval": "step", "frequency": 1, "name": "budgetlr"},
    }
