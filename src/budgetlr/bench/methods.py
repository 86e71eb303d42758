"""The schedule names a sweep runs beyond the schedule registry: methods that need the trial.

* ``schedulefree`` (``schedulefree(warmup=0.05)``): no schedule at all. The workload's optimizer
  is replaced by its schedule-free counterpart from the ``schedulefree`` package (arXiv 2405.15682):
  ``SGDScheduleFree`` for SGD workloads, ``AdamWScheduleFree`` for AdamW ones, with the workload's
  own momentum (or betas and eps) and weight decay and the package's own warmup, and evaluated at
  its averaged weights (``optimizer.eval()``).
* ``refined`` (``refined(smoothing=0.1)``): the schedule refined (arXiv 2310.07831) from the
  gradient norms of the :data:`REFINE_SOURCE` run of the same workload, budget, peak LR and seed,
  which the sweep runs first (l2 norms for SGD workloads, l1 norms for AdamW ones).
* ``uba(phi=auto, ...)``: UBA with ``phi`` chosen from the model's curvature at initialisation by
  :func:`budgetlr.adaptive.phi.suggest_phi`.

Every other name is a schedule of the registry and goes to :class:`budgetlr.torch.BudgetScheduler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from budgetlr.errors import InvalidInput
from budgetlr.schedules import FAMILIES, Schedule, parse
from budgetlr.schedules.base import default_of
from budgetlr.spec import format_spec, split_spec

if TYPE_CHECKING:
    import torch

    from budgetlr.bench.runner import TrialConfig
    from budgetlr.bench.workloads.base import Workload


class MethodKind(StrEnum):
    """What runs a sweep's schedule spec (the module docstring); each but ``SCHEDULE`` is also the
    spec name (or, for ``AUTO``, the value of UBA's phi) that asks for it."""

    SCHEDULE = "schedule"
    SCHEDULE_FREE = "schedulefree"
    REFINED = "refined"
    AUTO = "auto"


#: Spec names of one-off runs that no sweep tunes: a PBT run, and a PBT schedule's replay.
ONE_OFF_RUNS = frozenset({"pbt", "array"})
#: The run whose gradient norms a benchmark ``refined`` trial refines.
REFINE_SOURCE = "linear(warmup=0.05)"


@dataclass(frozen=True)
class Method:
    """A sweep's schedule spec, resolved: ``kind`` says what runs it; ``base`` is the registry schedule it validates as (for
    ``schedulefree`` the constant schedule carrying its warmup; for ``refined`` a linear stand-in;
    for ``auto`` UBA with ``phi=1``); ``options`` holds a ``refined`` trial's smoothing."""

    kind: MethodKind
    spec: str
    base: Schedule
    options: dict[str, Any]

    def validate(self, total_steps: int) -> None:
        self.base.validate(total_steps)


def method(spec: str) -> Method:
    """Resolve a sweep's schedule spec into canonical form; bad specs raise ``ValueError``."""
    name, args = split_spec(spec)
    if name == MethodKind.SCHEDULE_FREE:
        base = parse({"name": "constant", **args})
        text = format_spec(MethodKind.SCHEDULE_FREE, base.keys())
        return Method(MethodKind.SCHEDULE_FREE, text, base, {})
    if refines_a_sweep_run(name, args):
        unknown = set(args) - {"smoothing"}
        if unknown:
            raise InvalidInput(
                f"the benchmark's refined takes only smoothing=..., not {', '.join(sorted(unknown))}"
            )
        given = parse({"name": MethodKind.REFINED, "norms": [1.0, 1.0], **args}).to_dict()
        smoothing = given.get("smoothing", default_of(FAMILIES[MethodKind.REFINED], "smoothing"))
        text = format_spec(MethodKind.REFINED, {"smoothing": smoothing} if "smoothing" in given else {})
        return Method(MethodKind.REFINED, text, parse("linear"), {"smoothing": smoothing})
    if name == "uba" and args.get("phi") == MethodKind.AUTO:
        base = parse({"name": "uba", **{k: v for k, v in args.items() if k != "phi"}})
        return Method(MethodKind.AUTO, format_spec("uba", {"phi": "auto", **base.keys()}), base, {})
    schedule = parse(spec)
    return Method(MethodKind.SCHEDULE, str(schedule), schedule, {})


def records_gradient_norms(resolved: Method) -> bool:
    """Whether a trial of ``resolved`` records its gradient norm at every step: linear-decay runs
    do, the runs refinement starts from (arXiv 2310.07831, and :data:`REFINE_SOURCE` for the
    benchmark's ``refined``). The norms cost a small model a few percent of its training time
    (docs/benchmark.md), which trials nobody refines do not pay."""
    return resolved.kind == MethodKind.SCHEDULE and resolved.base.name == "linear"


def refines_a_sweep_run(name: str, args: Mapping[str, object]) -> bool:
    """Whether a spec split by :func:`~budgetlr.spec.split_spec` is the benchmark's ``refined``,
    which refines a sweep run's norms (a ``refined`` given its norms is a plain schedule)."""
    return name == MethodKind.REFINED and not {"norms", "file"} & set(args)


def source_of(config: TrialConfig) -> TrialConfig | None:
    """The trial whose gradient norms ``config`` needs, or None. It reads only the spec's name
    and arguments, since a sweep asks for each of its thousands of trials."""
    if not refines_a_sweep_run(*split_spec(config.schedule)):
        return None
    return replace(config, schedule=str(parse(REFINE_SOURCE)))


def build_schedule(
    resolved: Method,
    workload: Workload,
    model: torch.nn.Module,
    total_steps: int,
    norms: Sequence[float] | None,
) -> tuple[Schedule, dict[str, Any]]:
    """The registry schedule a trial runs, and what was measured to choose it."""
    if resolved.kind == MethodKind.REFINED:
        if norms is None:
            raise InvalidInput(f"{resolved.spec} needs the gradient norms of its {REFINE_SOURCE} run")
        schedule = parse(
            {
                "name": MethodKind.REFINED,
                "norms": list(norms),
                "optimizer": workload.refinement.optimizer,
                "smoothing": resolved.options["smoothing"],
            }
        )
        return schedule, {}
    if resolved.kind == MethodKind.AUTO:
        from budgetlr.bench.curvature import suggest_for_workload

        suggestion = suggest_for_workload(workload, model, total_steps)
        return parse({**resolved.base.to_dict(), "phi": suggestion.phi}), suggestion.to_dict()
    if resolved.kind == MethodKind.SCHEDULE_FREE:
        return parse("constant"), {}
    return resolved.base, {}


def make_optimizer(
    resolved: Method, workload: Workload, model: torch.nn.Module, lr: float, total_steps: int
) -> torch.optim.Optimizer:
    """The workload's optimizer, or for ``schedulefree`` its schedule-free counterpart
    (:func:`schedule_free_counterpart`)."""
    base = workload.make_optimizer(model.parameters(), lr)
    if resolved.kind != MethodKind.SCHEDULE_FREE:
        return base
    counterpart, settings = schedule_free_counterpart(base, workload)
    warmup_steps = resolved.base.resolve_warmup(total_steps)
    return counterpart(model.parameters(), lr=lr, warmup_steps=warmup_steps, **settings)


def schedule_free_counterpart(
    base: torch.optim.Optimizer, workload: Workload
) -> tuple[Callable[..., torch.optim.Optimizer], dict[str, Any]]:
    """The schedule-free class standing for ``base`` and its settings: the same momentum (or betas
    and eps) and weight decay, read from ``base``, so that a schedule-free trial differs from the
    others by the method alone (the package's defaults, momentum 0.9 where torch's SGD has none
    and no weight decay where AdamW has 0.01, never apply). Other optimizers are refused."""
    import schedulefree
    import torch

    settings = base.defaults
    if type(base) is torch.optim.SGD:
        if settings["dampening"] or settings["nesterov"] or not 0 < settings["momentum"] < 1:
            raise InvalidInput(
                f"schedulefree on {workload} needs SGD with momentum in (0, 1), no dampening and no "
                f"Nesterov, as schedule-free SGD has (the workload's: momentum={settings['momentum']}, "
                f"dampening={settings['dampening']}, nesterov={settings['nesterov']})"
            )
        return schedulefree.SGDScheduleFree, {
            "momentum": settings["momentum"],
            "weight_decay": settings["weight_decay"],
        }
    if type(base) is torch.optim.AdamW and not settings["amsgrad"]:
        return schedulefree.AdamWScheduleFree, {
            "betas": settings["betas"],
            "eps": settings["eps"],
            "weight_decay": settings["weight_decay"],
        }
    raise InvalidInput(
        f"schedulefree has no counterpart of {workload}'s optimizer {type(base).__name__}: "
        "it runs with torch.optim.SGD (momentum) or AdamW"
    )


def check_schedule_free(workload: Workload) -> None:
    """Refuse, before a sweep runs, a workload whose optimizer has no schedule-free counterpart."""
    import torch

    schedule_free_counterpart(workload.make_optimizer([torch.nn.Parameter(torch.zeros(1))], 1.0), workload)


def spec_name(schedule: str) -> str:
    """The family or method name of a stored schedule spec (``"pbt"`` of ``"pbt(population=8)"``)."""
    return split_spec(schedule)[0]
