"""The report: report.md, report.html and PNG plots, every number read from the results database."""

from __future__ import annotations

import html
import math
import os
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, pyplot, save, style
from budgetlr.study import analysis, finegrid
from budgetlr.study.analysis import Cell
from budgetlr.study.pages import Styled, Table


@dataclass
class Heading:
    level: int
    text: str


@dataclass
class Paragraph:
    text: str


@dataclass
class Image:
    path: str
    alt: str


Block = Heading | Paragraph | Table | Image


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
    blocks = build(all_cells, curves, plots, len(trials), store.path)
    (to / "report.md").write_text(to_markdown(blocks))
    (to / "report.html").write_text(to_html(blocks))
    return to / "report.md"


def build(
    all_cells: list[Cell], curves: dict[str, list], plots: Path, trial_count: int, db: Path
) -> list[Block]:
    workloads = sorted({c.workload for c in all_cells})
    seeds = sorted({len(c.test) for c in all_cells if c.test})
    blocks: list[Block] = [
        Heading(1, "budgetlr benchmark report"),
        Paragraph(
            f"{trial_count} trials from `{db}`. For every workload, schedule and budget the peak LR is "
            "tuned on the validation split (mean over seeds; an LR where any seed diverged counts as worst); "
            "tables show the test metric at that LR as mean ± sd over seeds. **Bold**: best mean; "
            "*italic*: a tie (95% t-intervals overlap the best's)."
        ),
        Paragraph(
            f"Seeds per cell: {', '.join(map(str, seeds))}. A 95% t-interval of a mean over n seeds is "
            "±t·sd/√n with t = 12.7 for n = 2, 4.3 for n = 3 and 2.8 for n = 5: with few seeds most cells tie; "
            "more seeds (`--seeds 0,1,2,3,4`) separate them."
        ),
    ]
    for workload in workloads:
        mine = [c for c in all_cells if c.workload == workload]
        first = mine[0]
        direction = "higher is better" if first.higher_is_better else "lower is better"
        blocks += [
            Heading(2, workload),
            Paragraph(
                f"Test {first.metric} ({direction}) at the tuned peak LR.{optimizer_sentence(workload)}"
            ),
        ]
        blocks.append(budget_table(mine))
        if first.task_metric and first.task_metric != first.metric:
            blocks += [
                Paragraph(f"Secondary: test {first.task_metric} at the same tuned LR, mean over seeds."),
                task_table(mine),
            ]
        blocks.append(lr_table(mine))
        if any(set(finegrid.flags(c.val_by_lr, c.tuned_lr)) & set(FLAG_NAMES) for c in mine):
            blocks.append(
                Paragraph(
                    "Flagged tuned LRs: *edge*, the best LR of the grid is its lowest or highest, so the optimum "
                    "may lie beyond it; *cliff*, an LR next to it diverged for a seed. `budgetlr bench --lrs` "
                    "with more LRs, or a suite that refines its grids (`--suite fair`), settles them."
                )
            )
        name = slug(workload)
        plot_metric_vs_budget(mine, plots / f"{name}-budget.png")
        plot_curves(mine, curves, plots / f"{name}-curves.png")
        plot_lr_sensitivity(mine, plots / f"{name}-lr.png")
        blocks += [
            Image(f"plots/{name}-budget.png", f"{workload}: test metric against budget"),
            Image(f"plots/{name}-curves.png", f"{workload}: training loss against steps at the tuned LR"),
            Image(f"plots/{name}-lr.png", f"{workload}: validation metric against peak LR"),
        ]
    blocks += [Heading(2, "Wins and ties across the suite"), wins_table(all_cells)]
    times = analysis.steps_to_target(all_cells)
    blocks += [
        Heading(2, "Time to target and performance profile"),
        Paragraph(
            "Steps to target: the smallest budget, in steps, whose tuned run reaches the workload's target on "
            "validation; the target is the median over schedules of the tuned validation metric at the largest "
            "budget. r = steps / fewest steps of any schedule; misses count as r = inf. "
            f"Score B = (1/n) Σ max(0, r_max − r)/(r_max − 1) with r_max = {analysis.R_MAX:g} (AlgoPerf, arXiv 2306.07179)."
        ),
        time_table(times),
    ]
    ratios = analysis.performance_ratios(times)
    if ratios:
        plot_profiles(ratios, plots / "performance-profile.png")
        blocks.append(Image("plots/performance-profile.png", "performance profiles of the schedules"))
    return blocks


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


#: The short names of the :func:`budgetlr.study.finegrid.flags` the table of tuned LRs shows.
#: Not "neighbours over sqrt(2) apart": every cell of a coarse grid (the quick suite's) has it.
FLAG_NAMES = {"at a grid edge": "edge", "next to a divergence": "cliff"}


def lr_table(mine: list[Cell]) -> Table:
    def tuned(cell: Cell) -> str | None:
        if not cell.tuned_lr:
            return None
        names = [
            FLAG_NAMES[flag] for flag in finegrid.flags(cell.val_by_lr, cell.tuned_lr) if flag in FLAG_NAMES
        ]
        return f"{cell.tuned_lr:g}" + (f" ({', '.join(names)})" if names else "")

    return per_budget_table(mine, "tuned peak LR at budget", tuned)


def optimizer_sentence(workload: str) -> str:
    """Which optimizer every schedule of ``workload`` ran, where its class can be loaded here."""
    try:
        text = resolve_workload(workload).optimizer_text()
    except InvalidInput:
        return ""
    return f" Every schedule runs {text}; schedule-free its schedule-free counterpart with the same settings."


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


# -- rendering ---------------------------------------------------------------------------------
def to_markdown(blocks: Sequence[Block]) -> str:
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Heading):
            lines += ["#" * block.level + " " + block.text, ""]
        elif isinstance(block, Paragraph):
            lines += [block.text, ""]
        elif isinstance(block, Image):
            lines += [f"![{block.alt}]({block.path})", ""]
        else:
            marks = {"best": "**", "tie": "*", "": ""}
            lines.append("| " + " | ".join(block.header) + " |")
            lines.append("|" + "---|" * len(block.header))
            lines += [
                "| " + " | ".join(f"{marks[s]}{t}{marks[s]}" for t, s in row) + " |" for row in block.rows
            ]
            lines.append("")
    return "\n".join(lines)


def to_html(blocks: Sequence[Block]) -> str:
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>budgetlr benchmark report</title>",
        "<style>body{font-family:sans-serif;max-width:1200px;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}</style></head><body>",
    ]
    tags = {"best": ("<b>", "</b>"), "tie": ("<i>", "</i>"), "": ("", "")}
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            text = html.escape(block.text)
            for mark, tag in (("**", "b"), ("*", "i"), ("`", "code")):
                pieces = text.split(mark)
                text = "".join(p if i % 2 == 0 else f"<{tag}>{p}</{tag}>" for i, p in enumerate(pieces))
            parts.append(f"<p>{text}</p>")
        elif isinstance(block, Image):
            parts.append(f"<p><img src='{html.escape(block.path)}' alt='{html.escape(block.alt)}'></p>")
        else:
            header = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            body = "".join(
                "<tr>"
                + "".join(f"<td>{tags[s][0]}{html.escape(t)}{tags[s][1]}</td>" for t, s in row)
                + "</tr>"
                for row in block.rows
            )
            parts.append(f"<table><tr>{header}</tr>{body}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)
