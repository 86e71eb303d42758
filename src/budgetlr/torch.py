"""The PyTorch adapter: :class:`BudgetScheduler`, a drop-in ``LRScheduler`` for any budgetlr spec.

The LR of step ``t`` is the closed form ``base_lr * multiplier(t)`` for each param group (no
chained updates), so it never drifts and resumes bit for bit. Changing the budget mid-run is an
explicit act with one of three policies (:data:`budgetlr.schedules.plans.BudgetPolicy`).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from budgetlr._extras import require
from budgetlr.meters import REPLAN_THRESHOLD, Clock, Consumption, Deadline
from budgetlr.recording import RunRecorder
from budgetlr.schedules.base import Schedule, check_total_steps
from budgetlr.schedules.budget import Budget, BudgetUnit, check_fits
from budgetlr.schedules.plans import (
    POLICIES,
    RESTORED,
    STATE_KEYS,
    BudgetPolicy,
    Plan,
    check_base_lrs,
    check_policy,
    whole_number,
)
from budgetlr.schedules.registry import parse
from budgetlr.schedules.shapes import check_shape

require("torch", "torch", "budgetlr.torch")

from torch import Tensor  # noqa: E402
from torch.optim import Optimizer  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

#: Multipliers are computed this many steps at a time, in blocks aligned to absolute steps so that
#: a resumed run evaluates exactly the same arrays as an uninterrupted one.
BLOCK_STEPS = 1024
#: A time budget's plan before its first step is measured: the start of a curve this long (a
#: warmup starts near 0). The first step's duration replaces it with a real plan.
PROVISIONAL_STEPS = 1_000_000


class BudgetScheduler(LRScheduler):
    """A PyTorch LR scheduler following a budgetlr schedule over ``total_steps`` optimizer steps.

    Call ``scheduler.step()`` once after every ``optimizer.step()`` (per step, not per epoch).
    Each param group keeps its own base LR; the schedule multiplies it.

    Args:
        optimizer: the wrapped optimizer.
        spec: a spec string such as ``"uba(phi=0.5, warmup=0.05)"``, a spec dict or a schedule.
        total_steps: the budget ``T`` in optimizer steps.
        budget: instead of ``total_steps``, a budget in steps, tokens, samples or time: ``10000``,
            ``"2e9 tokens"``, ``"50000 samples"``, ``"3h"``, ``"5400s"`` or a
            :class:`~budgetlr.schedules.budget.Budget` (see :mod:`budgetlr.meters`). Tokens and
            samples: call ``step(tokens=n)`` / ``step(samples=n)``. Time: stop when
            :attr:`finished`. Options in steps (``warmup_steps``, ``decay_steps``) are refused
            unless the budget is in steps; fractions work with every budget.
        on_budget_change: what :meth:`load_state_dict` does with a checkpoint saved under another
            ``total_steps``: ``None`` (default) refuses; ``"rescale"``, ``"continue"`` or
            ``"cooldown"`` re-plan the checkpoint's run to this scheduler's ``total_steps``.
        clock: a time budget's clock, seconds (default ``time.monotonic``).
        replan_threshold: a time budget re-plans when the steps that fit move by more than this
            fraction of the steps left.
        per_step: a budget in tokens or samples: what the first step will consume, if known (the
            first LR of a warmup counts it; without it, that step counts as one token or sample).
        record: a file to record the run in, as ``budgetlr plan fit`` reads it (a path, or a
            :class:`~budgetlr.recording.RunRecorder` to choose how often it writes): each
            :meth:`step` writes the step's LR and the loss given as ``step(loss=loss)``.
        last_epoch: as in PyTorch; leave at -1 and resume with :meth:`load_state_dict`.
    """

    _block_index: int
    _block: list[float]

    def __init__(
        self,
        optimizer: Optimizer,
        spec: str | Mapping[str, Any] | Schedule,
        total_steps: int | None = None,
        *,
        budget: Budget | int | str | datetime.timedelta | None = None,
        on_budget_change: BudgetPolicy | None = None,
        clock: Clock | None = None,
        replan_threshold: float = REPLAN_THRESHOLD,
        per_step: float | None = None,
        record: str | os.PathLike[str] | RunRecorder | None = None,
        last_epoch: int = -1,
    ) -> None:
        self.spec = parse(spec)
        self.recorder = record if isinstance(record, RunRecorder) or record is None else RunRecorder(record)
        total_steps = self._start_budget(total_steps, budget, clock, replan_threshold, per_step)
        self.spec.validate(total_steps)
        if on_budget_change is not None:
            check_policy(on_budget_change)
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, int) or last_epoch < -1:
            raise ValueError(f"last_epoch must be a whole number >= -1, got {last_epoch!r}")
        key = "lr" if last_epoch == -1 else "initial_lr"
        check_base_lrs([group.get(key) for group in optimizer.param_groups], f"the optimizer's {key}")
        self.on_budget_change = on_budget_change
        self._set_plan(Plan(self.spec, total_steps))
        super().__init__(optimizer, last_epoch)

    # -- the LR ------------------------------------------------------------------------------
    def get_lr(self) -> list[Any]:
        ratio = self._ratio(self.last_epoch) if self.consumption is None else self._consumed_ratio()
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
        self._block = []

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
    def rebudget(self, total_steps: int, policy: BudgetPolicy) -> None:
        """Change the budget to ``total_steps`` at the current step under ``policy``
        (``"rescale"``, ``"continue"`` or ``"cooldown"``; see the module docstring). The
        optimizer's LRs are updated at once."""
        check_policy(policy)
        self._refuse_amount_rebudget()
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
        current, planned = self.plan.ratio(step), float(spec.multiplier(step, total_steps))
        if current == planned:
            return 1.0
        end = float(spec.multiplier(total_steps, total_steps))
        if planned == end:
            raise ValueError(
                f"policy 'continue' cannot re-plan {spec} at step {step}: its curve at total_steps="
                f"{total_steps} is already at its final value there; use 'cooldown' or 'rescale'"
            )
        return (current - end) / (planned - end)

    def cooldown(self, steps: int, shape: str = "1-sqrt") -> None:
        """From the current step, decay from the current LR to the floor in exactly ``steps``
        steps with ``shape`` (a WSD shape), then hold the floor. ``total_steps`` becomes
        ``current step + steps``. This is a WSD cooldown branch taken from the current run; the
        LR never returns to the peak afterwards (WSD-S, arXiv 2410.05192, would)."""
        check_shape(shape)
        self._refuse_amount_rebudget()
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
        """Plain data only (strings, numbers, lists), so ``torch.load(weights_only=True)`` reads it.
        The recorder writes its rows first, so the recording holds every step of the checkpoint."""
        if self.recorder is not None:
            self.recorder.flush()
        return {
            "spec": str(self.spec),
            "plan": self.plan.to_dict(),
            "last_epoch": self.last_epoch,
            "_step_count": self._step_count,
            "base_lrs": list(self.base_lrs),
            "_last_lr": list(self._last_lr),
            **self._budget_state(),
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Resume exactly where the checkpoint left off. A checkpoint saved under a different
        ``total_steps`` is refused unless ``on_budget_change`` names a policy. Everything is checked
        before anything changes: a checkpoint that cannot load raises ``ValueError`` naming the
        problem and leaves this scheduler (and the optimizer's LRs) exactly as they were."""
        if not isinstance(state_dict, Mapping):
            raise ValueError(f"not a BudgetScheduler checkpoint: a dict, got {type(state_dict).__name__}")
        missing = [key for key in STATE_KEYS if key not in state_dict]
        if missing:
            raise ValueError(f"not a BudgetScheduler checkpoint: it lacks {', '.join(missing)}")
        saved_spec = parse(state_dict["spec"])
        if saved_spec != self.spec:
            raise ValueError(
                f"checkpoint was saved with schedule {saved_spec}, this scheduler has {self.spec}"
            )
        plan = Plan.from_dict(state_dict["plan"])
        last_epoch = whole_number("last_epoch", state_dict["last_epoch"], least=0)  # 0 once constructed
        step_count = whole_number("_step_count", state_dict["_step_count"], least=0)
        groups = len(self.optimizer.param_groups)
        for name in ("base_lrs", "_last_lr"):
            values = state_dict[name]
            if not isinstance(values, (list, tuple)) or len(values) != groups:
                raise ValueError(
                    f"checkpoint's {name} has {len(values) if isinstance(values, (list, tuple)) else 'no'} "
                    f"entries, this optimizer has {groups} param groups"
                )
        check_base_lrs(state_dict["base_lrs"], "checkpoint's base_lrs")
        check_base_lrs(state_dict["_last_lr"], "checkpoint's _last_lr")
        self._check_budget_state(state_dict)
        # A time budget's plan is the checkpoint's: its re-plans continue from the saved clock.
        target = plan.total_steps if self.deadline is not None else self.total_steps
        if plan.total_steps != target and self.on_budget_change is None:
            raise ValueError(
                f"checkpoint was saved with total_steps={plan.total_steps} but this scheduler has "
                f"total_steps={target}; pass on_budget_change= one of {', '.join(POLICIES)} "
                "(rescale: new curve at the same step, the LR may jump; continue: LR continuous, "
                "re-planned to the floor at the new total_steps; cooldown: decay to the floor by then)"
            )
        if plan.total_steps != target and target <= last_epoch:
            raise ValueError(
                f"checkpoint is at step {last_epoch}, past this scheduler's total_steps={target}"
            )
        saved = {name: getattr(self, name) for name in RESTORED}
        saved_lrs = [group["lr"] for group in self.optimizer.param_groups]
        meter = self.consumption if self.consumption is not None else self.deadline
        saved_meter = None if meter is None else meter.state_dict()
        try:
            self.last_epoch = last_epoch
            self._step_count = step_count
            self.base_lrs = list(state_dict["base_lrs"])
            self._last_lr = list(state_dict["_last_lr"])
            if meter is not None:
                meter.load_state_dict(state_dict["meter"])
            self._set_plan(plan)
            if plan.total_steps != target and self.on_budget_change is not None:  # None refused above
                self.rebudget(target, self.on_budget_change)
        except BaseException:
            # re-planning can still refuse (e.g. 'continue' at a final value): undo every change
            self.__dict__.update(saved)
            if meter is not None and saved_meter is not None:
                meter.load_state_dict(saved_meter)
            for group, lr in zip(self.optimizer.param_groups, saved_lrs, strict=True):
                group["lr"] = lr
            raise

    # -- budgets in tokens, samples and seconds (budgetlr.budgets) --------------------------------
    def _start_budget(
        self,
        total_steps: int | None,
        budget: Any,
        clock: Clock | None,
        replan_threshold: float,
        per_step: float | None,
    ) -> int:
        """Set ``self.budget`` and its meter; return the first plan's ``total_steps``."""
        if (total_steps is None) == (budget is None):
            raise ValueError(
                "give the budget once: total_steps=N (optimizer steps) or budget= "
                "(e.g. 10000, '2e9 tokens', '50000 samples', '3h')"
            )
        self.budget = Budget(check_total_steps(total_steps)) if budget is None else Budget.parse(budget)
        check_fits(self.spec, self.budget)
        counted = self.budget.unit.consumed
        self.consumption = Consumption(self.budget.unit, per_step) if counted else None
        if per_step is not None and not counted:
            raise ValueError(f"per_step= goes with a budget in tokens or samples, not {self.budget}")
        timed = self.budget.unit is BudgetUnit.SECONDS
        self.deadline = Deadline(self.budget.amount, clock, replan_threshold) if timed else None
        if clock is not None and not timed:
            raise ValueError(f"clock= goes with a budget in time, not {self.budget}")
        return PROVISIONAL_STEPS if timed else int(self.budget.amount)

    def step(
        self,
        epoch: int | None = None,
        *,
        tokens: float | None = None,
        samples: float | None = None,
        loss: Any = None,
    ) -> None:
        """Advance one optimizer step. With a budget in tokens or samples, give what the step
        consumed: ``step(tokens=n)`` or ``step(samples=n)`` (or :meth:`report` it beforehand).
        With ``record=``, give the step's loss (a float or a tensor) as ``step(loss=loss)``."""
        if tokens is not None or samples is not None:
            self.report(tokens=tokens, samples=samples)
        if self._step_count > 0:  # not the constructor's own first call
            if self.recorder is not None:
                self.recorder.record(self.last_epoch, float(self._last_lr[0]), loss)
            if self.consumption is not None:
                self.consumption.advance()
            if self.deadline is not None:
                self._plan_to_deadline()
        super().step(epoch)
        if self.recorder is not None and self.finished:
            self.recorder.flush()

    def report(self, *, tokens: float | None = None, samples: float | None = None) -> None:
        """Count what the current step consumed towards the next :meth:`step`, for trainers
        (transformers) that call ``step()`` themselves."""
        for unit, amount in (("tokens", tokens), ("samples", samples)):
            if amount is None:
                continue
            if self.consumption is None or self.consumption.unit != unit:
                raise ValueError(
                    f"{unit}= goes with a budget in {unit}; this scheduler's budget is {self.budget}"
                )
            self.consumption.add(amount)

    @property
    def finished(self) -> bool:
        """True once the budget is spent and the LR is at its final value: stop the loop."""
        if self.consumption is not None:
            return self.consumption.consumed >= self.budget.amount
        return self.last_epoch >= self.total_steps

    def _consumed_ratio(self) -> float:
        assert self.consumption is not None
        position = self.consumption.position(self.plan.spec.resolve_warmup(self.total_steps))
        return float(self.plan.ratios(np.array([position]))[0])

    def _plan_to_deadline(self) -> None:
        """After step ``last_epoch``: plan to the steps that fit before the deadline, on the first
        step (rescale: the provisional plan has no meaning) and whenever the estimate moves."""
        assert self.deadline is not None
        self.deadline.tick()
        done = self.last_epoch + 1
        if self.last_epoch > 0 and done >= self.total_steps:
            return
        estimated = done + self.deadline.steps_left()
        if self.last_epoch > 0 and not self.deadline.moved(self.total_steps, estimated, done):
            return
        if self.plan.cooldown_shape is None:
            try:
                self.rebudget(estimated, "rescale" if self.last_epoch == 0 else "continue")
                return
            except ValueError:
                pass  # the family cannot be re-fitted here: see below
        # A warmup longer than the steps left, a curve already at its last value, or a cooldown
        # begun for those reasons: decay from the current LR to the floor by the new estimate.
        self.cooldown(estimated - self.last_epoch)

    def _refuse_amount_rebudget(self) -> None:
        if self.consumption is not None:
            raise ValueError(
                f"rebudget and cooldown count optimizer steps; this scheduler's budget is {self.budget}"
            )

    def _budget_state(self) -> dict[str, Any]:
        if self.budget.in_steps:
            return {}
        meter = self.consumption if self.consumption is not None else self.deadline
        assert meter is not None
        return {"budget": str(self.budget), "meter": meter.state_dict()}

    def _check_budget_state(self, state_dict: Mapping[str, Any]) -> None:
        """Refuse a checkpoint whose budget this scheduler cannot take up; changes nothing."""
        saved = Budget.parse(state_dict.get("budget", 1))
        if saved.unit != self.budget.unit:
            raise ValueError(
                f"checkpoint was saved with a budget in {saved.unit}, this scheduler's is in {self.budget.unit}"
            )
        # A changed deadline is taken up by the next re-plan, the LR continuous; an amount cannot change.
        if self.consumption is not None and saved != self.budget:
            raise ValueError(
                f"checkpoint was saved with budget {saved}, this scheduler has {self.budget}; "
                f"a budget in {saved.unit} cannot change on resume"
            )
        if not self.budget.in_steps and "meter" not in state_dict:
            raise ValueError(f"checkpoint lacks the meter of its budget in {self.budget.unit}")
