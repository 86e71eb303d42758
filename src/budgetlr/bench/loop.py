"""The training loop every trainer of budgetlr runs: a trial, a PBT member, a WSD branch.

Per step: the LR (set by ``lr(t)``, or left to a scheduler stepped after the optimizer), the
loss, the backward pass, the gradient norms if asked for, the optimizer step. Nothing waits for
the device per step: losses and gradient norms stay tensors and are read back every
``check_every`` steps, before each evaluation and at the end. A loss that is not finite, or that
exceeds :data:`DIVERGENCE_FACTOR` times the run's first loss, ends the run there as diverged: what
was recorded after it is dropped, so the record is what a per-step check gives. Evaluation time
is measured apart from training time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from budgetlr._extras import require

require("torch", "bench", "budgetlr.bench.loop")

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.optim import Optimizer  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

#: Steps between two reads of the losses from the device: the latest a divergence is noticed.
CHECK_EVERY = 64
#: A run whose training loss exceeds this many times its first loss has diverged: no schedule
#: recovers a useful model from there within its budget, and stored as ``ok`` such a run would
#: pass for a slow one next to a divergence cliff.
DIVERGENCE_FACTOR = 10.0
NORM_ORDERS = {"l2": 2.0, "l1": 1.0}


@dataclass
class Run:
    """What one call of :func:`train` did."""

    #: Steps trained with a finite loss. After a diverging step the record stops, as a per-step
    #: check would stop the run; the steps trained before the check noticed it are not counted.
    steps: int
    #: The global step (0-based) whose loss was not finite or past the divergence limit, or None.
    diverged_at: int | None
    #: The training loss of each finite step.
    losses: list[float]
    #: The LR of param group 0 at each step run, the diverging one included.
    lrs: list[float]
    #: Per kind asked for (``"l2"``, ``"l1"``), the norm of the whole gradient at each finite step.
    grad_norms: dict[str, list[float]]
    #: ``(steps done, value)`` of each evaluation.
    evaluations: list[tuple[int, Any]] = field(default_factory=list)
    train_seconds: float = 0.0
    eval_seconds: float = 0.0

    @property
    def diverged(self) -> bool:
        return self.diverged_at is not None


def train(
    model: nn.Module,
    optimizer: Optimizer,
    loss: Callable[[nn.Module, tuple[Tensor, Tensor]], Tensor],
    batches: Iterator[tuple[Tensor, Tensor]],
    steps: range,
    *,
    lr: Callable[[int], float] | None = None,
    scheduler: LRScheduler | None = None,
    norms: Sequence[str] = (),
    evaluate: Callable[[], Any] | None = None,
    eval_every: int = 0,
    check_every: int = CHECK_EVERY,
    divergence_factor: float = DIVERGENCE_FACTOR,
) -> Run:
    """Train ``model`` for the global steps ``steps`` (e.g. ``range(start, stop)``) on ``batches``.

    ``lr(t)`` sets every param group's LR before step ``t``; without it the optimizer's LR is
    left to ``scheduler``, stepped after each optimizer step. ``evaluate()`` runs after every
    step ``t`` with ``(t + 1) % eval_every == 0``, except the last of ``steps``. The run diverges
    at a loss that is not finite or above ``divergence_factor`` times the first step's loss (when
    that is positive).
    """
    run = Run(0, None, [], [], {kind: [] for kind in norms})
    pending_losses: list[Tensor] = []
    pending_norms: dict[str, list[list[Tensor]]] = {kind: [] for kind in norms}
    parameters = list(model.parameters())
    one_group = single_group(parameters)
    start = time.perf_counter()

    def flush() -> bool:
        """Read the pending losses and norms back; False (and the run cut) where it diverged."""
        if not pending_losses:
            return True
        values = torch.stack(pending_losses).tolist()
        first = run.losses[0] if run.losses else values[0]
        # A loss that can be zero or negative (a log-likelihood) has no scale to diverge against.
        limit = divergence_factor * first if first > 0 else math.inf
        finite = next(
            (i for i, value in enumerate(values) if not (math.isfinite(value) and value <= limit)),
            len(values),
        )
        run.losses += values[:finite]
        for kind, pending in pending_norms.items():
            run.grad_norms[kind] += total_norms(pending[:finite], kind)
            pending.clear()
        if finite < len(values):
            run.diverged_at = steps.start + len(run.losses)
            del run.lrs[len(run.losses) + 1 :]
        pending_losses.clear()
        return run.diverged_at is None

    for t in steps:
        if lr is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr(t)
        run.lrs.append(optimizer.param_groups[0]["lr"])
        value = loss(model, next(batches))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        for kind in norms:
            pending_norms[kind].append(gradient_norm_parts(parameters, kind, one_group))
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        pending_losses.append(value.detach())
        due = evaluate is not None and eval_every > 0 and (t + 1) % eval_every == 0 and t + 1 < steps.stop
        if (due or len(pending_losses) == check_every) and not flush():
            break
        if due and evaluate is not None:
            clock = time.perf_counter()
            run.evaluations.append((t + 1, evaluate()))
            run.eval_seconds += time.perf_counter() - clock
    else:
        flush()
    run.steps = len(run.losses)
    run.train_seconds = time.perf_counter() - start - run.eval_seconds
    return run


def gradient_norm_parts(parameters: Sequence[nn.Parameter], kind: str, one_group: bool) -> list[Tensor]:
    """The norms ``kind`` (``"l2"``, ``"l1"``) of each parameter's gradient, as tensors (no device
    sync); :func:`total_norms` combines them later, many steps at once.

    One ``_foreach_norm`` is all a step pays, where ``torch.nn.utils.get_total_norm`` would also
    regroup the tensors and reduce them: on a small model that costs a few percent of its step
    time. Parameters spread over devices or dtypes get ``get_total_norm``'s total, as one part."""
    grads = [p.grad for p in parameters if p.grad is not None]
    order = NORM_ORDERS[kind]
    if not (one_group and grads):
        return [torch.nn.utils.get_total_norm(grads, order)]
    return list(torch._foreach_norm(grads, order))


def total_norms(steps_parts: Sequence[Sequence[Tensor]], kind: str) -> list[float]:
    """The norm of the whole gradient at each step, from its parts (:func:`gradient_norm_parts`):
    ``get_total_norm``'s value, up to rounding."""
    if not steps_parts:
        return []
    order = NORM_ORDERS[kind]
    sizes = [len(parts) for parts in steps_parts]
    flat = torch.stack([part for parts in steps_parts for part in parts])
    if len(set(sizes)) == 1:
        totals = torch.linalg.vector_norm(flat.view(len(sizes), -1), order, dim=1)
    else:
        totals = torch.stack([torch.linalg.vector_norm(row, order) for row in flat.split(sizes)])
    return totals.float().tolist()


def single_group(parameters: Sequence[nn.Parameter]) -> bool:
    """Whether the parameters share one device and dtype, on a device with foreach kernels."""
    groups = {(p.device, p.dtype) for p in parameters}
    return len(groups) == 1 and next(iter(groups))[0].type in ("cpu", "cuda")
