"""The report: report.md, report.html and PNG plots, every number read from the results database."""

from __future__ import annotations

import math
import os
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from budgetlr.bench.runner import CurvePoint
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, pyplot, save, style
from budgetlr.study import analysis, lr_grid
from budgetlr.study.analysis import Cell
from budgetlr.study.pages import Styled, Table, markdown_html, render


def write_report(out: Path, to: Path | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` of the results in ``out`` into
    folder ``to`` (default ``out``); returns report.md."""
    out = Path(out)
    to = out if to is None else Path(to)
    if to.is_dir() and not os.access(to, os.W_OK):
        raise InvalidInput(
            f"cannot write the report into {to} (not writable): give 'budgetlr report --to FOLDER'"
        )
    with Store.existing(out) as store:
        trials = store.trials()
        if not trials:
            raise InvalidInput(f"the results database in {str(out)!r} holds no trials yet")
        all_cells = analysis.cells(analysis.on_grid(trials)[0])  # the lr-transfer runs tune nothing
        curves = {key: store.curve(key) for cell in all_cells for key in cell.keys}
    plots = to / "plots"
    plots.mkdir(parents=True, exist_ok=True)
    text = render("report.md.j2", **build(all_cells, curves, plots, len(trials), store.path)) + "\n"
    (to / "report.md").write_text(text)
    (to / "report.html").write_text(markdown_html(text, "budgetlr benchmark report"))
    return to / "report.md"


def build(
    all_cells: list[Cell], curves: dict[str, list[CurvePoint]], plots: Path, trial_count: int, db: Path
) -> dict[str, Any]:
    """The report's fields (``templates/report.md.j2``), drawing its plots into ``plots``."""
    workloads = []
    for workload in sorted({c.workload for c in all_cells}):
        mine = [c for c in all_cells if c.workload == workload]
        first = mine[0]
        name = slug(workload)
        plot_metric_vs_budget(mine, plots / f"{name}-budget.png")
        plot_curves(mine, curves, plots / f"{name}-curves.png")
        plot_lr_sensitivity(mine, plots / f"{name}-lr.png")
        secondary = first.task_metric and first.task_metric != first.metric
        workloads.append(
            {
                "name": workload,
                "slug": name,
                "metric": first.metric,
                "higher_is_better": first.higher_is_better,
                "optimizer": optimizer_text(workload),
                "table": budget_table(mine),
                "task_metric": first.task_metric,
                "task_table": task_table(mine) if secondary else None,
                "lr_table": lr_table(mine),
                "flagged": any(set(lr_grid.flags(c.val_by_lr, c.tuned_lr)) & set(FLAG_NAMES) for c in mine),
            }
        )
    times = analysis.steps_to_target(all_cells)
    ratios = analysis.performance_ratios(times)
    if ratios:
        plot_profiles(ratios, plots / "performance-profile.png")
    return {
        "trials": trial_count,
        "db": db,
        "seeds": sorted({len(c.test) for c in all_cells if c.test}),
        "workloads": workloads,
        "wins": wins_table(all_cells),
        "times": time_table(times),
        "r_max": analysis.R_MAX,
        "profile": bool(ratios),
    }


# -- tables ------------------------------------------------------------------------------------
def budget_table(mine: list[Cell]) -> Table:
    schedules = sorted({c.schedule for c in mine})
    rows = []
    for budget in sorted({c.budget for c in mine}):
        group = {c.schedule: c for c in mine if c.budget == budget}
        best, ties = analysis.best_and_ties(list(group.values()))
        steps = max(c.steps for c in group.values())
        row: list[Styled] = [(f"{budget:g} ({steps} steps)", "")]
        for schedule in schedules:
            cell = group.get(schedule)
            style = "best" if cell is best and cell else "tie" if cell in ties else ""
            row.append((format_cell(cell), style))
        rows.append(row)
    return Table(["budget", *schedules], rows)


def format_cell(cell: Cell | None) -> str:
    if cell is None:
        return "–"
    if not cell.test:
        return "diverged"
    sd = "" if math.isnan(cell.sd) else f" ± {cell.sd:.3g}"
    return f"{cell.mean:.4g}{sd}"


def task_table(mine: list[Cell]) -> Table:
    """The task metric (e.g. accuracy) of each cell at its tuned LR: a secondary column."""
    return per_budget_table(
        mine, f"test {mine[0].task_metric} at budget", lambda c: f"{np.mean(c.task):.4g}" if c.task else None
    )


#: The short names of the :func:`budgetlr.study.lr_grid.flags` the table of tuned LRs shows.
#: Not "neighbours over sqrt(2) apart": every cell of a coarse grid (the quick suite's) has it.
FLAG_NAMES = {"at a grid edge": "edge", "next to a divergence": "cliff"}


def lr_table(mine: list[Cell]) -> Table:
    def tuned(cell: Cell) -> str | None:
        if not cell.tuned_lr:
            return None
        names = [
            FLAG_NAMES[flag] for flag in lr_grid.flags(cell.val_by_lr, cell.tuned_lr) if flag in FLAG_NAMES
        ]
        return f"{cell.tuned_lr:g}" + (f" ({', '.join(names)})" if names else "")

    return per_budget_table(mine, "tuned peak LR at budget", tuned)


def optimizer_text(workload: str) -> str:
    """The optimizer every schedule of ``workload`` runs, where its class can be loaded here."""
    try:
        return resolve_workload(workload).optimizer_text()
    except InvalidInput:
        return ""


def per_budget_table(mine: list[Cell], header: str, value: Callable[[Cell], str | None]) -> Table:
    """A row per budget, a column per schedule: ``value`` of each cell, "–" where it has none."""
    schedules = sorted({c.schedule for c in mine})
    rows = []
    for budget in sorted({c.budget for c in mine}):
        group = {c.schedule: c for c in mine if c.budget == budget}
        cells = [((value(group[s]) if s in group else None) or "–", "") for s in schedules]
        rows.append([(f"{budget:g}", ""), *cells])
    return Table([header, *schedules], rows)


def wins_table(all_cells: list[Cell]) -> Table:
    counts = analysis.wins_ties_losses(all_cells)
    order = sorted(counts, key=lambda s: (-counts[s][0], -counts[s][1], s))
    return Table(
        ["schedule", "wins", "ties", "losses"],
        [[(s, ""), *((str(n), "") for n in counts[s])] for s in order],
    )


def time_table(times: dict[str, dict[str, int | None]]) -> Table:
    schedules = sorted({s for per in times.values() for s in per})
    ratios = analysis.performance_ratios(times)
    rows = [
        [
            (w, ""),
            *((str(times[w].get(s)) if times[w].get(s) is not None else "missed", "") for s in schedules),
        ]
        for w in sorted(times)
    ]
    rows.append([("score B", ""), *((f"{analysis.profile_score(ratios[s]):.3f}", "") for s in schedules)])
    return Table(["steps to target", *schedules], rows)


# -- plots -------------------------------------------------------------------------------------
def plot_metric_vs_budget(mine: list[Cell], path: Path) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 4.5), layout="constrained")
    for index, schedule in enumerate(sorted({c.schedule for c in mine})):
        cells = sorted((c for c in mine if c.schedule == schedule and c.test), key=lambda c: c.budget)
        if cells:
            errors = [0.0 if math.isnan(c.sd) else c.sd for c in cells]
            axes.errorbar(
                [c.budget for c in cells],
                [c.mean for c in cells],
                yerr=errors,
                label=schedule,
                capsize=3,
                **style(index),
            )
    axes.set_xscale("log")
    budgets = sorted({c.budget for c in mine})
    axes.set_xticks(budgets, [f"{b:g}" for b in budgets])
    axes.set_xlabel("budget (fraction of the full budget)")
    axes.set_ylabel(f"test {mine[0].metric} (mean ± sd over seeds)")
    axes.set_title(f"{mine[0].workload}: quality against budget")
    axes.grid(alpha=0.3)
    if any(c.test for c in mine):  # every run diverged: nothing plotted, no legend
        axes.legend(fontsize="small")
    save(figure, path)


def plot_curves(mine: list[Cell], curves: dict[str, list], path: Path) -> None:
    budgets = sorted({c.budget for c in mine})
    figure, axes = panels(len(budgets), 3.8)
    for ax, budget in zip(axes, budgets, strict=True):
        for cell in sorted((c for c in mine if c.budget == budget and c.keys), key=lambda c: c.schedule):
            runs = [[p for p in curves[k] if p.train_loss is not None] for k in cell.keys]
            # A point is the mean loss of the steps since the previous one, drawn at the last of
            # them (0-based, as the LR is): the first, the first step's loss, at step 0.
            steps = [p.step - 1 for p in runs[0]]
            losses = np.nanmean(
                [[p.train_loss for p in run] for run in runs if len(run) == len(steps)], axis=0
            )
            ax.plot(steps, losses, label=cell.schedule)
        ax.set_yscale("log")
        ax.set_title(f"budget {budget:g}")
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("training loss (mean over seeds)")
    axes[-1].legend(fontsize="x-small")
    figure.suptitle(f"{mine[0].workload}: training loss at the tuned LR")
    save(figure, path)


def plot_lr_sensitivity(mine: list[Cell], path: Path) -> None:
    budgets = sorted({c.budget for c in mine})
    figure, axes = panels(len(budgets), 3.8)
    for ax, budget in zip(axes, budgets, strict=True):
        for cell in sorted((c for c in mine if c.budget == budget), key=lambda c: c.schedule):
            lrs = sorted(cell.val_by_lr)
            ax.plot(lrs, [cell.val_by_lr[lr] for lr in lrs], marker="o", label=cell.schedule)
        ax.set_xscale("log")
        ax.set_title(f"budget {budget:g}")
        ax.set_xlabel("peak LR")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"validation {mine[0].metric} (gaps: diverged)")
    axes[-1].legend(fontsize="x-small")
    figure.suptitle(f"{mine[0].workload}: sensitivity to the peak LR")
    save(figure, path)


def plot_profiles(ratios: dict[str, list[float]], path: Path) -> None:
    """One line per distinct profile: schedules whose profiles coincide (on a few workloads they
    often do) share a line and a legend entry, so that no line hides another; the legend sits
    below the plot, its entries wrapped, so that long specs never cover the lines."""
    plt = pyplot()
    taus = np.linspace(1.0, analysis.R_MAX, 301)
    groups: dict[tuple[float, ...], list[str]] = {}
    for schedule in sorted(ratios):
        groups.setdefault(tuple(analysis.profile_curve(ratios[schedule], taus)), []).append(schedule)
    lines = sum(len(textwrap.wrap(", ".join(names), 90)) for names in groups.values())
    figure, axes = plt.subplots(figsize=(8, 4.5 + 0.22 * lines), layout="constrained")
    for index, (curve, schedules) in enumerate(groups.items()):
        score = analysis.profile_score(ratios[schedules[0]])
        axes.step(
            taus,
            curve,
            where="post",
            label=textwrap.fill(f"{', '.join(schedules)} (B={score:.2f})", 90),
            color=style(index)["color"],
            linestyle=("-", "--", "-.", ":")[index % 4],
            linewidth=2.0,
        )
    axes.set_xlabel("τ (steps relative to the fastest schedule)")
    axes.set_ylabel("share of workloads with r ≤ τ")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title("performance profiles: steps to the target; coinciding profiles share a line")
    axes.grid(alpha=0.3)
    figure.legend(loc="outside lower center", fontsize="small")
    save(figure, path)


def slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in text).strip("_")
