"""UBA's phi read from a sweep's specs: cosine is UBA with phi = 2 exactly, and ``uba(phi=auto)``
chooses its own."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from budgetlr.bench.methods import MethodKind, method
from budgetlr.schedules import FAMILIES, keys_of
from budgetlr.study import stats
from budgetlr.study.analysis import Cell
from budgetlr.study.recommend import aligned, paired_by_seed, positive_pairs
from budgetlr.study.stats import BOOTSTRAP_SEED

#: UBA's phi, and the keys besides it: cosine is UBA with phi = 2 exactly, uba(phi=auto) is "auto".
Phi = tuple[tuple[tuple[str, object], ...], float | str]


def uba_phi(schedule: str) -> Phi | None:
    """``(the other keys, phi)`` of a UBA spec, cosine (phi = 2) or ``uba(phi=auto)``; else None."""
    resolved = method(schedule)
    keys = {k: v for k, v in resolved.base.to_dict().items() if k != "name"}
    phi: float | str
    if resolved.kind == MethodKind.AUTO:
        phi = "auto"
    elif resolved.kind == MethodKind.SCHEDULE and resolved.base.name == "cosine":
        phi = 2.0
    elif resolved.kind == MethodKind.SCHEDULE and resolved.base.name == "uba":
        phi = float(keys.pop("phi", keys_of(FAMILIES["uba"])["phi"]))
    else:
        return None
    return tuple(sorted(keys.items())), phi


def phi_groups(cells: list[Cell]) -> tuple[str, dict[str, float]] | None:
    """``uba(phi=auto, ...)`` and the fixed-phi schedules with the same other keys (cosine as
    phi = 2), as ``(auto, {schedule: phi})``; None without an auto schedule."""
    phis = {c.schedule: p for c in cells if (p := uba_phi(c.schedule)) is not None}
    autos = sorted(s for s, (_, phi) in phis.items() if phi == "auto")
    if not autos:
        return None
    keys = phis[autos[0]][0]
    fixed = {s: float(phi) for s, (k, phi) in phis.items() if k == keys and isinstance(phi, float)}
    return autos[0], fixed


@dataclass(frozen=True)
class PhiAutoJudgement:
    """``uba(phi=auto)`` against the fixed phi chosen without the workload it is scored on."""

    #: per held-out (workload, budget): the fixed-phi schedule chosen on the other workloads
    picks: dict[tuple[str, float], str]
    #: auto's held-out test loss against those picks', a log-ratio pooled over the held-out cells
    against_fixed: stats.Interval

    @property
    def beats_fixed(self) -> bool:
        return self.against_fixed.high < 0

    def explain(self) -> str:
        pct = self.against_fixed.percent()
        workloads = sorted({w for w, _ in self.picks})
        says = (
            "phi=auto beats the best fixed phi out of sample"
            if self.beats_fixed
            else "phi=auto does not beat the best fixed phi out of sample"
        )
        return (
            f"{says}: its held-out loss against the fixed phi chosen on the other workloads is {pct.estimate:+.2f}%, "
            f"95% interval [{pct.low:+.2f}%, {pct.high:+.2f}%] (leave-one-workload-out over {', '.join(workloads)})"
        )


def judge_phi_auto(cells: Sequence[Cell], auto: str, fixed: Mapping[str, float]) -> PhiAutoJudgement | None:
    """Leave-one-workload-out, as the recommender, over the workloads where ``auto`` ran: for each
    workload and budget where it ran, the fixed-phi schedule (a key of ``fixed``, e.g. ``uba(phi=0.5, ...)`` -> 0.5) of least
    mean log-loss over each cell's best on the *other* workloads is its rival, and auto's test loss
    is compared with that rival's there, paired by seed and pooled over the held-out cells. None
    without held-out losses on 2 or more workloads."""
    by_cell: dict[tuple[str, float], dict[str, Cell]] = defaultdict(dict)
    for cell in cells:
        wanted = cell.schedule == auto or cell.schedule in fixed
        if wanted and cell.metric == "loss" and cell.test and len(cell.seeds) == len(cell.test):
            by_cell[(cell.workload, cell.budget)][cell.schedule] = cell
    # Only workloads where auto ran choose its rival: the others may lack some fixed phis.
    ran_auto = {w for (w, _), g in by_cell.items() if auto in g}
    means = {
        w: {
            b: fixed_means
            for (w2, b), g in by_cell.items()
            if w2 == w and (fixed_means := {s: c.mean for s, c in g.items() if s in fixed})
        }
        for w in ran_auto
    }
    if len(means) < 2:
        return None
    choice = stats.leave_one_workload_out(means, rng=np.random.default_rng(BOOTSTRAP_SEED))
    by_workload: dict[str, dict[float, dict[int, tuple[float, float]]]] = defaultdict(dict)
    picks = {}
    for held in choice.cells:
        group = by_cell[(held.workload, held.budget)]
        if auto not in group:
            continue
        pairs = paired_by_seed(group[auto], group[held.pick])
        if pairs is not None and positive_pairs(pairs):
            by_workload[held.workload][held.budget] = pairs
            picks[(held.workload, held.budget)] = held.pick
    pooled = {w: paired for w, by_budget in by_workload.items() if (paired := aligned(by_budget))}
    picks = {key: pick for key, pick in picks.items() if key[0] in pooled}
    if not pooled:
        return None
    interval = stats.pooled_log_ratio(dict(pooled), rng=np.random.default_rng(BOOTSTRAP_SEED))
    return PhiAutoJudgement(picks, interval)


def phi_auto_verdict(out: Path) -> str:
    """What the study in ``out`` says of phi=auto out of sample, in one line."""
    from budgetlr.bench.store import Store
    from budgetlr.study.analysis import cells, on_grid
    from budgetlr.study.recommend import is_pickable

    with Store.existing(out) as store:
        measured = [c for c in cells(on_grid(store.trials())[0]) if is_pickable(c.schedule)]
    groups = phi_groups(measured)
    judgement = None if groups is None else judge_phi_auto(measured, *groups)
    if judgement is None:
        return f"{out} holds no out-of-sample test of phi=auto (it needs held-out losses of phi=auto and fixed phis on 2+ workloads)"
    return judgement.explain()
