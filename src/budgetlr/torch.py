"""The PyTorch adapter: :class:`BudgetScheduler`, a drop-in ``LRScheduler`` for any budgetlr spec.

The LR of step ``t`` is the closed form ``base_lr * multiplier(t)`` for each param group (no
chained updates), so it never drifts and resumes bit for bit. Changing the budget mid-run is an
explicit act with one of three policies (SPEC.md section 3):

* ``rescale``: the new budget's curve at the same step; the LR may jump, on purpose.
* ``continue``: the LR stays continuous. The rest of the run follows the schedule fitted to the
  new budget (its warmup kept in steps), scaled about its final value so that it starts from the
  current LR and ends exactly where the family ends at the new ``total_steps``: the floor for
  every decaying family (a step schedule ends at ``gamma^k``).
* ``cooldown``: decay from the current LR to the floor over the remaining steps with a WSD
  shape, then hold the floor: the WSD-S branch (arXiv 2410.05192).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from budgetlr.schedules.base import FloatArray, Schedule, check_total_steps
from budgetlr.schedules.registry import parse
from budgetlr.schedules.shapes import check_shape, decay_shape

POLICIES = ("rescale", "continue", "cooldown")

#: Multipliers are computed this many steps at a time, in blocks aligned to absolute steps so that
#: a resumed run evaluates exactly the same arrays as an uninterrupted one.
BLOCK_STEPS = 1024


@dataclass(frozen=True)
class Plan:
    """What the scheduler follows from step ``anchor`` on: ``spec`` fitted to ``total_steps``,
    scaled about its final value by ``scale`` (``continue``), or a cooldown from ``cooldown_from``."""

    spec: Schedule
    total_steps: int
    anchor: int = 0
    scale: float = 1.0
    cooldown_shape: str | None = None
    cooldown_from: float = 0.0

    def ratios(self, t: FloatArray) -> FloatArray:
        """``lr / base_lr`` at steps ``t``; meaningful from ``anchor`` on (earlier steps are history)."""
        if self.cooldown_shape is not None:
            floor = self.spec.floor
            x = (t - self.anchor) / (self.total_steps - self.anchor)
            return floor + (self.cooldown_from - floor) * decay_shape(self.cooldown_shape, x)
        ratios = self.spec.multiplier(t, self.total_steps)
        if self.scale == 1.0:
            return ratios
        end = self.spec.multiplier(self.total_steps, self.total_steps)
        return end + self.scale * (ratios - end)

    def ratio(self, t: int) -> float:
        return float(self.ratios(np.array([float(t)]))[0])

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "spec": str(self.spec)}

    @classmethod
    def from_dict(cls, state: Mapping[str, Any]) -> Plan:
        return cls(**{**state, "spec": parse(state["spec"])})


class BudgetScheduler(LRScheduler):
    """A PyTorch LR scheduler following a budgetlr schedule over ``total_steps`` optimizer steps.

    Call ``scheduler.step()`` once after every ``optimizer.step()`` (per step, not per epoch).
    Each param group keeps its own base LR; the schedule multiplies it.

    Args:
        optimizer: the wrapped optimizer.
        spec: a spec string such as ``"uba(phi=0.5, warmup=0.05)"``, a spec dict or a schedule.
        total_steps: the budget ``T`` in optimizer steps.
        on_budget_change: what :meth:`load_state_dict` does with a checkpoint saved under another
            ``total_steps``: ``None`` (default) refuses; ``"rescale"``, ``"continue"`` or
            ``"cooldown"`` re-plan the checkpoint's run to this scheduler's ``total_steps``.
        last_epoch: as in PyTorch; leave at -1 and resume with :meth:`load_state_dict`.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        spec: str | Mapping[str, Any] | Schedule,
        total_steps: int,
        *,
        on_budget_change: str | None = None,
        last_epoch: int = -1,
    ) -> None:
        self.spec = parse(spec)
        total_steps = check_total_steps(total_steps)
        self.spec.validate(total_steps)
        if on_budget_change is not None:
            check_policy(on_budget_change)
        self.on_budget_change = on_budget_change
        self._set_plan(Plan(self.spec, total_steps))
        super().__init__(optimizer, last_epoch)

    # -- the LR ------------------------------------------------------------------------------
    def get_lr(self) -> list[Any]:
        ratio = self._ratio(self.last_epoch)
        return [base_lr * ratio for base_lr in self.base_lrs]

    def _ratio(self, t: int) -> float:
        block, offset = divmod(t, BLOCK_STEPS)
        if block != self._block_index:
            start = block * BLOCK_STEPS
            steps = np.arange(start, start + BLOCK_STEPS, dtype=np.float64)
            self._block = self.plan.ratios(steps).tolist()
            self._block_index = block
        return self._block[offset]

    @property
    def total_steps(self) -> int:
        """The current budget: the constructor's, or the last rebudget's or cooldown's."""
        return self.plan.total_steps

    def _set_plan(self, plan: Plan) -> None:
        self.plan = plan
        self._block_index = -1
        self._block: list[float] = []

    def _apply_current_lr(self) -> None:
        # A tensor LR (capturable or compiled optimizers) is filled in place, as step() does:
        # the optimizer's compiled graph holds that very tensor.
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            if isinstance(group["lr"], Tensor):
                group["lr"].fill_(float(lr))
            else:
                group["lr"] = lr
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]

    # -- budget changes ------------------------------------------------------------------------
    def rebudget(self, total_steps: int, policy: str) -> None:
        """Change the budget to ``total_steps`` at the current step under ``policy``
        (``"rescale"``, ``"continue"`` or ``"cooldown"``; see the module docstring). The
        optimizer's LRs are updated at once."""
        check_policy(policy)
        total_steps = check_total_steps(total_steps)
        step = self.last_epoch
        if total_steps <= step:
            raise ValueError(f"new total_steps={total_steps} must exceed the current step {step}")
        if policy == "cooldown":
            self.cooldown(total_steps - step)
            return
        if policy == "rescale":
            self.spec.validate(total_steps)
            plan = Plan(self.spec, total_steps, anchor=step)
        else:
            spec = dataclasses.replace(
                self.plan.spec, warmup=None, warmup_steps=self.plan.spec.resolve_warmup(self.total_steps)
            )
            spec.validate(total_steps)
            plan = Plan(spec, total_steps, anchor=step, scale=self._continue_scale(spec, total_steps, step))
        self._set_plan(plan)
        self._apply_current_lr()

    def _continue_scale(self, spec: Schedule, total_steps: int, step: int) -> float:
        current, planned = self.plan.ratio(step), spec.multiplier(step, total_steps)
        if current == planned:
            return 1.0
        end = spec.multiplier(total_steps, total_steps)
        if planned == end:
            raise ValueError(
                f"policy 'continue' cannot re-plan {spec} at step {step}: its curve at total_steps="
                f"{total_steps} is already at its final value there; use 'cooldown' or 'rescale'"
            )
        return (current - end) / (planned - end)

    def cooldown(self, steps: int, shape: str = "1-sqrt") -> None:
        """From the current step, decay from the current LR to the floor in exactly ``steps``
        steps with ``shape`` (a WSD shape), then hold the floor. ``total_steps`` becomes
        ``current step + steps``."""
        check_shape(shape)
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"cooldown steps must be a whole number >= 1, got {steps!r}")
        step = self.last_epoch
        current = self.plan.ratio(step)
        self._set_plan(
            Plan(self.plan.spec, step + int(steps), anchor=step, cooldown_shape=shape, cooldown_from=current)
        )
        self._apply_current_lr()

    # -- checkpoints ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Plain data only (strings, numbers, lists), so ``torch.load(weights_only=True)`` reads it."""
        return {
            "spec": str(self.spec),
            "plan": self.plan.to_dict(),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume exactly where the checkpoint left off. A checkpoint saved under a different
        ``total_steps`` is refused unless ``on_budget_change`` names a policy."""
        saved_spec = parse(state_dict["spec"])
        if saved_spec != self.spec:
            raise ValueError(
                f"checkpoint was saved with schedule {saved_spec}, this scheduler has {self.spec}"
            )
        plan = Plan.from_dict(state_dict["plan"])
        target = self.total_steps
        if plan.total_steps != target and self.on_budget_change is None:
            raise ValueError(
                f"checkpoint was saved with total_steps={plan.total_steps} but this scheduler has "
                f"total_steps={target}; pass on_budget_change= one of {', '.join(POLICIES)} "
                "(rescale: new curve at the same step, the LR may jump; continue: LR continuous, "
                "re-planned to the floor at the new total_steps; cooldown: decay to the floor by then)"
            )
        self.last_epoch = state_dict["last_epoch"]
        self._step_count = state_dict["_step_count"]
        self.base_lrs = list(state_dict["base_lrs"])
        self._last_lr = list(state_dict["_last_lr"])
        self._set_plan(plan)
        if plan.total_steps != target:
            self.rebudget(target, self.on_budget_change)


def check_policy(policy: Any) -> None:
    if policy not in POLICIES:
        raise ValueError(f"unknown budget policy {policy!r}; valid policies: {', '.join(POLICIES)}")
