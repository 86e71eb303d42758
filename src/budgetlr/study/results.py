"""A study's results page (docs/results.md): verdicts, tables and plots. Every number, grid and
spec on it is read from the database or from the suite's definition (its claim and comparisons).

budgetlr bench --suite study --out study-results
budgetlr wsd-s --workload mnist1d-cnn --out study-results   # and the other workloads
budgetlr results --out study-results --write docs/results.md
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from functools import cache
from pathlib import Path

from budgetlr.bench.methods import MethodKind, method, spec_name
from budgetlr.bench.store import Store, Trial
from budgetlr.bench.suites import SUITES, Claim, Suite
from budgetlr.bench.workloads import BUILT_IN
from budgetlr.errors import InvalidInput
from budgetlr.schedules import FAMILIES, keys_of
from budgetlr.spec import format_spec, split_spec
from budgetlr.study import analysis, branching, transfer
from budgetlr.study import recommend as study
from budgetlr.study.analysis import Cell
from budgetlr.study.lr_grid import next_lrs
from budgetlr.study.measurements import (
    adaptive,
    core_minutes,
    cost,
    held_out_noise,
    lr_transfer_section,
    phi_sensitivity,
    tuning,
    wsd_s,
)
from budgetlr.study.pages import Section, page_text
from budgetlr.study.plan_check import planner_section
from budgetlr.study.report import budget_table, optimizer_text, plot_metric_vs_budget, slug
from budgetlr.study.verdicts import (
    per_cell_comparisons,
    phi_auto_out_of_sample,
    pooled_verdicts,
    recommendations,
    recommender_out_of_sample,
)


def warmup_of(schedule: str) -> object:
    return method(schedule).base.to_dict().get("warmup")


def shortener(schedules: Sequence[str]) -> tuple[object, Callable[[str], str]]:
    """The warmup most ``schedules`` share, and spec strings without it (the page states it once)."""
    counts = Counter(w for s in schedules if (w := warmup_of(s)) is not None)
    if not counts:
        return None, lambda schedule: schedule
    warmup = counts.most_common(1)[0][0]

    @cache
    def short(schedule: str) -> str:
        if warmup_of(schedule) != warmup:
            return schedule
        name, args = split_spec(schedule)
        return format_spec(name, {key: value for key, value in args.items() if key != "warmup"})

    return warmup, short


def grids(trials: list[Trial], short: Callable[[str], str]) -> str:
    """Each workload's LR grid, the one most of its schedules ran, and the schedules with more."""
    by_schedule: dict[str, dict[str, frozenset[float]]] = defaultdict(lambda: defaultdict(frozenset))
    for trial in trials:
        by_schedule[trial.workload][trial.schedule] |= {trial.lr}

    def listed(lrs: Iterable[float]) -> str:
        return ", ".join(f"{lr:g}" for lr in sorted(lrs))

    parts = []
    for workload, lrs_of in sorted(by_schedule.items()):
        common = Counter(lrs_of.values()).most_common(1)[0][0]
        more = [
            f"{short(s)} also {listed(lrs - common)}" if lrs > common else f"{short(s)} {listed(lrs)}"
            for s, lrs in sorted(lrs_of.items())
            if lrs != common
        ]
        parts.append(f"{workload}: {listed(common)}" + (f" ({'; '.join(more)})" if more else ""))
    return "; ".join(parts)


def reported(trials: list[Trial], suite: Suite) -> list[Trial]:
    """``trials`` with each schedule under the name the suite reports it by (one method, specified
    per workload, pools as one)."""
    names = suite.report_names()
    return [
        dataclasses.replace(t, schedule=name) if (name := names.get((t.workload, t.schedule))) else t
        for t in trials
    ]


def suite_trials(trials: list[Trial], suite: Suite, planned: analysis.Planned) -> list[Trial]:
    """The trials that tune the suite's cells, as its page and ``recommend --suite`` read them: on
    its grids (``planned``, :meth:`Suite.planned`), each schedule under the name it is reported by."""
    return reported(analysis.on_grid(trials, planned)[0], suite)


def coarse_grids(suite: Suite) -> str:
    """A refining suite's coarse grids, each workload's (the refined ones differ cell by cell)."""
    return "; ".join(
        f"{workload}: {', '.join(f'{lr:g}' for lr in lrs)}" for workload, lrs in sorted(suite.lrs.items())
    )


def incomplete(suite: Suite, trials: list[Trial], cells: list[Cell]) -> str:
    """What of the suite's study is still to run: the trials of its plan (a refining suite's coarse
    pass) not yet stored, and the cells where refinement would still add an LR
    (:func:`~budgetlr.study.lr_grid.next_lrs`), each per workload; empty when nothing is."""
    stored = {(t.workload, t.schedule, t.budget, t.lr, t.seed) for t in trials}
    plan = suite.plan()
    unrun = Counter(
        c.workload for c in plan if (c.workload, c.schedule, c.budget, c.lr, c.seed) not in stored
    )
    unsettled = Counter(
        c.workload
        for c in cells
        if suite.refine
        and c.workload in suite.lrs
        and next_lrs(c.val_by_lr, suite.lrs[c.workload], c.higher_is_better)
    )

    def listed(counts: Counter[str]) -> str:
        return ", ".join(f"{workload} {count:,}" for workload, count in sorted(counts.items()))

    parts = []
    if unrun:
        stage = "coarse pass" if suite.refine else "plan"
        parts.append(
            f"{unrun.total():,} of the {len(plan):,} trials of the suite's {stage} {'is' if unrun.total() == 1 else 'are'} "
            f"not yet stored ({listed(unrun)})"
        )
    if unsettled:
        noun = "cell" if unsettled.total() == 1 else "cells"
        parts.append(f"refinement would still add LRs to {unsettled.total()} {noun} ({listed(unsettled)})")
    return ", and ".join(parts)


def recommend_option(name: str | None, suite: Suite) -> str:
    """`` --suite NAME`` where ``budgetlr recommend`` needs it to read the database as the suite's
    page does (a suite with convex controls or methods reported under other names)."""
    return f" --suite {name}" if name and (suite.controls or suite.report_names()) else ""


def takes_notes(schedule: str) -> bool:
    """Whether trials of ``schedule`` store what the page reports of them: phi=auto's phi, PBT's run."""
    return spec_name(schedule) == "pbt" or method(schedule).kind == MethodKind.AUTO


def write_results(out: Path, page: Path, suite: Suite, gpu: Path | None = None) -> Path:
    with Store.existing(out) as store:
        trials = store.trials()
        notes = {t.key: store.notes(t.key) for t in trials if takes_notes(t.schedule)}
    if not trials:
        raise InvalidInput(f"the results database in {str(out)!r} holds no trials yet")
    # the runs at the LRs the transfer test predicts are off the grids: they tune no cell
    planned = suite.planned()
    cells = analysis.cells(suite_trials(trials, suite, planned))
    gpu_cells = None
    if gpu is not None:  # read, or refused, before anything is written
        with Store.existing(gpu) as store:
            gpu_cells = analysis.cells(store.trials())
    plots = page.parent / page.stem
    plots.mkdir(parents=True, exist_ok=True)
    sections = build(cells, trials, planned, notes, branching.load_rows(out), plots, page, out, suite)
    if gpu_cells is not None:
        sections += gpu_section(gpu_cells, suite.claim, shortener([c.schedule for c in gpu_cells])[1])
    else:
        sections.append(Section("results/gpu.md.j2", {"workloads": None}))
    page.write_text(page_text(sections))
    return page


def build(
    cells: list[Cell],
    trials: list[Trial],
    planned: analysis.Planned,
    notes: dict[str, dict[str, object]],
    rows: list[branching.BranchRow],
    plots: Path,
    page: Path,
    out: Path,
    suite: Suite,
) -> list[Section]:
    pickable = [c for c in cells if study.is_pickable(c.schedule)]
    workloads = sorted({c.workload for c in pickable})
    budgets = sorted({c.budget for c in pickable})
    schedules = sorted({c.schedule for c in pickable})
    seeds = sorted({t.seed for t in trials})
    swept, off_grid = analysis.on_grid([t for t in trials if study.is_pickable(t.schedule)], planned)
    laws = transfer.transfers(trials, planned)
    transferred, superseded = transfer.current(off_grid, laws)
    warmup, short = shortener(schedules)
    other_warmups = [s for s in schedules if warmup_of(s) != warmup]
    missing = sorted(
        name
        for name, w in BUILT_IN.items()
        if not w.gpu_tier and not any(x.startswith(name) for x in workloads)
    )
    rel = plots.relative_to(page.parent)
    suite_name = next((name for name, known in SUITES.items() if known is suite), None)
    suite_option = recommend_option(suite_name, suite)
    intro = {
        "suite": suite_name,
        "recommend_option": suite_option,
        "incomplete": incomplete(suite, trials, pickable),
        "refined": suite.refine,
        "out": out,
        "page": page,
        "trials": len(trials),
        "swept": len(swept),
        "swept_minutes": core_minutes(swept),
        "transferred": len(transferred),
        "transferred_minutes": core_minutes(transferred),
        "superseded": len(superseded),
        "superseded_minutes": core_minutes(superseded),
        "workloads": workloads,
        "budgets": budgets,
        "seeds": seeds,
        "grids": grids(swept, short) if not suite.refine else coarse_grids(suite),
        "reported_as": [
            f"{', '.join(part.workloads)} runs {', '.join(f'`{spec}`' for spec in part.reported_as)}"
            for part in suite.sweeps()
            if part.reported_as
        ],
        "warmup": warmup,
        "other_warmups": other_warmups,
        "missing": missing,
        "wsd_shape": keys_of(FAMILIES["wsd"])["shape"]
        if any(method(s).base.name == "wsd" for s in schedules)
        else None,
    }
    sections = [Section("results/intro.md.j2", intro)]
    # A suite with convex controls leads with its networks; the controls get a section of their own.
    main = [c for c in pickable if c.workload not in suite.controls]
    controls = [c for c in pickable if c.workload in suite.controls]
    group = "the networks" if suite.controls else ""
    if suite.claim is not None:
        sections.append(pooled_verdicts(main, suite.claim, short, group=group))
    sections.append(recommender_out_of_sample(main, short))
    if suite.controls:
        groups = [
            ("The networks", sorted({c.workload for c in main})),
            ("The convex controls", list(suite.controls)),
        ]
        sections += [planner_section(groups, pickable, trials, out, short), tuning(pickable, short)]
        if suite.claim is not None:
            sections.append(pooled_verdicts(controls, suite.claim, short, group="the convex controls"))
    sections += [
        lr_transfer_section(laws, trials, short),
        *phi_auto_out_of_sample(pickable, short, notes),
    ]
    if suite.claim is not None:
        sections += per_cell_comparisons(pickable, suite.claim, budgets, short)
    sections += [
        recommendations(main, budgets, short, suite_option),
        *phi_sensitivity(pickable, trials, notes, plots, rel),
        *adaptive(cells, pickable, suite.comparisons, budgets, short),
        *wsd_s(rows),
        *held_out_noise(pickable, swept),
        cost(swept, transferred, superseded),
        every_cell(pickable, trials, short, plots, rel),
    ]
    return sections


def every_cell(
    pickable: list[Cell], trials: list[Trial], short: Callable[[str], str], plots: Path, rel: Path
) -> Section:
    # The optimizer a workload runs now; trials of semantics 2 and before ran the quadratics with
    # plain SGD and schedule-free with its own defaults, so only a newer workload's is stated.
    older = {t.workload for t in trials if t.semantics < 3}
    found = []
    for workload in sorted({c.workload for c in pickable}):
        mine = [c for c in pickable if c.workload == workload]
        name = slug(workload)
        plot_metric_vs_budget(mine, plots / f"{name}-budget.png")
        table = budget_table(mine)
        table.header = [table.header[0], *map(short, table.header[1:])]
        edges = sum(
            1 for c in mine if c.tuned_lr is not None and c.tuned_lr in (min(c.val_by_lr), max(c.val_by_lr))
        )
        found.append(
            {
                "name": workload,
                "metric": mine[0].metric,
                "higher_is_better": mine[0].higher_is_better,
                "edges": edges,
                "cells": len(mine),
                "optimizer": "" if workload in older else optimizer_text(workload),
                "table": table,
                "plot": f"{rel}/{name}-budget.png",
            }
        )
    return Section("results/every_cell.md.j2", {"workloads": found})


def gpu_section(cells: list[Cell], claim: Claim | None, short: Callable[[str], str]) -> list[Section]:
    """The GPU study's cells, judged as the CPU study's are: the claim's verdicts on its workloads."""
    found = []
    for workload in sorted({c.workload for c in cells}):
        mine = [c for c in cells if c.workload == workload]
        table = budget_table(mine)
        table.header = [table.header[0], *map(short, table.header[1:])]
        found.append({"name": workload, "metric": mine[0].metric, "table": table})
    sections = [Section("results/gpu.md.j2", {"workloads": found})]
    if claim is not None:
        sections.append(pooled_verdicts(cells, claim, short, main_page=False))
    return sections


__all__ = ["write_results"]
