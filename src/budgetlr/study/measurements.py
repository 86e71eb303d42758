"""The results page's measurements (docs/results.md): the peak LR's transfer across budgets, UBA's
phi, adaptive methods and PBT, WSD-S, the held-out loss's noise and what the study cost. Each
returns the :class:`~budgetlr.study.pages.Section`(s) its template renders."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from budgetlr.bench.methods import method, spec_name
from budgetlr.bench.store import Trial
from budgetlr.plotting import panels, save
from budgetlr.study import analysis, branching, transfer
from budgetlr.study import recommend as study
from budgetlr.study.analysis import Cell
from budgetlr.study.pages import Section, Table
from budgetlr.study.phis import uba_phi
from budgetlr.study.stats import BOOTSTRAP_SEED


def core_minutes(trials: Sequence[Trial]) -> float:
    """What ``trials`` cost on one core: per (workload, budget) their number times their median
    time (training and evaluation), so that a few trials slowed by other work on the machine, or
    paused, do not count."""
    times: dict[tuple[str, float], list[float]] = defaultdict(list)
    for t in trials:
        times[(t.workload, t.budget)].append(t.wall_time)
    return sum(len(v) * float(np.median(v)) for v in times.values()) / 60


def cost(swept: list[Trial], transferred: list[Trial], superseded: list[Trial]) -> Section:
    """Per workload: its trials, the median time of one at the largest budget, its core-minutes;
    what reproducing the study costs, so without the ``superseded`` transfer runs."""
    rows = []
    for workload in sorted({t.workload for t in swept}):
        mine = [t for t in swept if t.workload == workload]
        extra = [t for t in transferred if t.workload == workload]
        largest = max(t.budget for t in mine)
        rows.append(
            [
                (workload, ""),
                (f"{len(mine):,} + {len(extra):,}", ""),
                (f"{np.median([t.wall_time for t in mine if t.budget == largest]):.1f} s", ""),
                (f"{core_minutes(mine) + core_minutes(extra):.0f}", ""),
            ]
        )
    fields = {
        "total": core_minutes(swept) + core_minutes(transferred),
        "superseded": len(superseded),
        "superseded_minutes": core_minutes(superseded),
        "table": Table(["workload", "trials", "one trial at the largest budget", "core-minutes"], rows),
    }
    return Section("results/cost.md.j2", fields)


def held_out_noise(cells: list[Cell], trials: list[Trial]) -> list[Section]:
    """Per workload: the held-out loss's own sampling noise (its standard error over the test
    examples), the spread between seeds, and the gap between schedules it must resolve."""
    rows = []
    for workload in sorted({c.workload for c in cells if c.metric == "loss" and c.test}):
        mine = [c for c in cells if c.workload == workload and c.metric == "loss" and c.test and c.mean > 0]
        errors = [
            t.test_loss_se / t.test_loss
            for t in trials
            if t.workload == workload and t.status == "ok" and t.test_loss and t.test_loss_se is not None
        ]
        spreads = [c.sd / c.mean for c in mine if len(c.test) > 1]
        gaps = []
        for budget in sorted({c.budget for c in mine}):
            means = sorted(c.mean for c in mine if c.budget == budget and math.isfinite(c.mean))
            if len(means) > 1:
                gaps.append(float(np.median(means)) / means[0] - 1)
        if not (errors and spreads and gaps):
            continue
        rows.append(
            [
                (workload, ""),
                (f"{np.median(errors):.3%}", ""),
                (f"{np.median(spreads):.2%}", ""),
                (f"{np.median(gaps):.1%}", ""),
            ]
        )
    if not rows:
        return []
    header = ["workload", "test-set standard error", "seed-to-seed sd", "best to median schedule"]
    return [Section("results/noise.md.j2", {"table": Table(header, rows)})]


def lr_transfer_section(
    found: Sequence[transfer.Transfer], trials: list[Trial], short: Callable[[str], str]
) -> Section:
    """The power laws of the tuned LR in the budget (:func:`budgetlr.study.transfer.transfers` of
    ``trials``), fitted on the smaller budgets, and the regret of each prediction at the largest."""
    if not found:
        return Section("results/lr_transfer.md.j2", {"table": None})
    rows = []
    ran = False
    for item in found:
        loss = transfer.regret(item, trials)
        ran = ran or loss is not None
        rows.append(
            [
                (item.workload, ""),
                (short(item.schedule), ""),
                (f"{item.law.b:.2f}", ""),
                (f"[{item.exponent.low:.2f}, {item.exponent.high:.2f}]", ""),
                (f"{item.predicted_lr:g}", ""),
                (f"{item.tuned_lr:g}", ""),
                ("not run" if loss is None else "diverged" if math.isinf(loss) else f"{loss:+.2%}", ""),
                (", ".join(f"{t:g}" for t in item.edges) or "–", ""),
            ]
        )
    header = [
        "workload",
        "schedule",
        "b",
        "b 95% interval",
        "predicted LR",
        "tuned LR",
        "loss regret",
        "best LR at the grid's edge at budgets",
    ]
    return Section(
        "results/lr_transfer.md.j2",
        {"bootstrap_seed": BOOTSTRAP_SEED, "table": Table(header, rows), "ran": ran},
    )


def phi_sensitivity(
    cells: list[Cell], trials: list[Trial], notes: dict[str, dict[str, object]], plots: Path, rel: Path
) -> list[Section]:
    """UBA's phi against the metric, over the UBA specs that differ in phi alone (those whose
    other keys most UBA specs share)."""
    found = {c.schedule: p for c in cells if (p := uba_phi(c.schedule)) is not None}
    if not found:
        return []
    others = Counter(rest for rest, _ in found.values()).most_common(1)[0][0]
    by_group: dict[tuple[str, float], dict[float | str, Cell]] = defaultdict(dict)
    for cell in cells:
        if cell.schedule in found and found[cell.schedule][0] == others:
            by_group[(cell.workload, cell.budget)][found[cell.schedule][1]] = cell
    phis = sorted({p for g in by_group.values() for p in g if isinstance(p, float)})
    columns: list[float | str] = [*phis, "auto"]
    chosen: dict[tuple[str, float], list[float]] = defaultdict(list)
    for trial in trials:
        if trial.key in notes and "phi" in notes[trial.key]:
            chosen[(trial.workload, trial.budget)].append(float(str(notes[trial.key]["phi"])))
    rows = []
    for key in sorted(by_group):
        group = by_group[key]
        best, ties = analysis.best_and_ties(list(group.values()))
        row = [(f"{key[0]} @ {key[1]:g}", "")]
        for phi in columns:
            entry = group.get(phi)
            style = "best" if entry is best and entry else "tie" if entry in ties else ""
            row.append(("–" if entry is None else f"{entry.mean:.4g}", style))
        picked = chosen.get(key)
        row.append((f"{np.mean(picked):.3g}" if picked else "–", ""))
        rows.append(row)
    plot_phi(by_group, phis, plots / "phi-sensitivity.png")
    fields = {
        "measure": "loss" if all(c.metric == "loss" for c in cells) else "metric",
        "table": Table(["workload @ budget", *(f"phi={p:g}" for p in phis), "phi=auto", "auto chose"], rows),
        "plot": f"{rel}/phi-sensitivity.png",
    }
    return [Section("results/phi_sensitivity.md.j2", fields)]


def plot_phi(
    by_group: dict[tuple[str, float], dict[float | str, Cell]], phis: list[float], path: Path
) -> None:
    workloads = sorted({w for w, _ in by_group})
    figure, axes = panels(len(workloads), 3.6)
    for ax, workload in zip(axes, workloads, strict=True):
        for (w, budget), group in sorted(by_group.items()):
            if w != workload:
                continue
            fixed = {p: c for p, c in group.items() if p != "auto" and c.test}
            gaps = study.excess(fixed)
            ax.plot(list(fixed), [gaps[p] for p in fixed], marker="o", label=f"budget {budget:g}")
        ax.set_xscale("log", base=2)
        ax.set_title(workload, fontsize="small")
        ax.set_xlabel("phi")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("excess over the best phi")
    axes[-1].legend(fontsize="x-small")
    save(figure, path)


def adaptive(
    cells: list[Cell],
    pickable: list[Cell],
    comparisons: Sequence[tuple[str, str]],
    budgets: list[float],
    short: Callable[[str], str],
) -> list[Section]:
    """The suite's comparisons of adaptive methods with fixed schedules, and PBT's runs; nothing
    where the database holds neither."""
    schedules = {c.schedule for c in pickable}
    rows = []
    for challenger, baseline in ((method(a).spec, method(b).spec) for a, b in comparisons):
        if challenger in schedules and baseline in schedules:
            per = study.head_to_head(pickable, challenger, [baseline]).get(baseline, {})
            label = f"{short(challenger)} against {short(baseline)}"
            rows.append([(label, ""), *((per.get(b, "–"), "") for b in budgets)])
    table = Table(["comparison (W/T/L) at budget", *(f"{b:g}" for b in budgets)], rows)
    pbt_rows = []
    for cell in cells:
        if spec_name(cell.schedule) != "pbt":
            continue
        group = [c for c in cells if c.workload == cell.workload and c.budget == cell.budget]
        replay = [c for c in group if spec_name(c.schedule) == "array"]
        fixed = [c for c in group if study.is_pickable(c.schedule) and c.test]
        best = (max if cell.higher_is_better else min)(fixed, key=lambda c: c.mean) if fixed else None
        rank = 1 + sum(1 for c in fixed if replay and c.better(c.mean, replay[0].mean))
        pbt_rows.append(
            [
                (f"{cell.workload} @ {cell.budget:g}: {cell.schedule}", ""),
                (f"{cell.mean:.4g}", ""),
                (
                    f"{replay[0].mean:.4g} ± {replay[0].sd:.2g} ({len(replay[0].test)} seeds)"
                    if replay and replay[0].test
                    else "–",
                    "",
                ),
                (f"{short(best.schedule)}: {best.mean:.4g}" if best else "–", ""),
                (f"{rank} of {len(fixed) + 1}" if replay else "–", ""),
            ]
        )
    pbt_header = [
        "workload @ budget: run",
        "PBT best member",
        "replayed schedule",
        "best fixed schedule",
        "replay's rank",
    ]
    if not rows and not pbt_rows:
        return []
    fields = {"table": table, "pbt": Table(pbt_header, pbt_rows) if pbt_rows else None}
    return [Section("results/adaptive.md.j2", fields)]


def wsd_s(rows: list[branching.BranchRow]) -> list[Section]:
    if not rows:
        return []
    table_rows = []
    for workload in sorted({r.workload for r in rows}):
        mine = [r for r in rows if r.workload == workload]
        for budget in sorted({r.budget for r in mine}):
            at = [r for r in mine if r.budget == budget]
            means = {k: float(np.mean([getattr(r, k) for r in at])) for k in ("separate", "branch", "wsd_s")}
            gap = means["wsd_s"] - means["separate"]
            table_rows.append(
                [
                    (f"{workload} @ {budget:g} ({at[0].steps} steps)", ""),
                    *((f"{means[k]:.4g}", "") for k in ("separate", "branch", "wsd_s")),
                    (f"{gap:+.3g}", ""),
                ]
            )
        first = mine[0]
        table_rows.append(
            [
                (f"{workload}: steps for all budgets", ""),
                (str(first.separate_steps), ""),
                (f"{first.branch_steps} ({first.branch_steps / first.separate_steps:.2f}x)", ""),
                (f"{first.wsd_s_steps} ({first.wsd_s_steps / first.separate_steps:.2f}x)", ""),
                ("", ""),
            ]
        )
    fields = {
        "settings": branching.BranchSettings(),
        "lrs": ", ".join(f"{lr:g} ({w})" for w, lr in sorted({(r.workload, r.lr) for r in rows})),
        "seeds": sorted({r.seed for r in rows}),
        "same": all(
            r.branch == r.separate or (r.branch != r.branch and r.separate != r.separate) for r in rows
        ),
        "table": Table(
            ["workload @ budget", "separate", "branches", "WSD-S", "WSD-S − separate"], table_rows
        ),
    }
    return [Section("results/wsd_s.md.j2", fields)]


def tuning(cells: Sequence[Cell], short: Callable[[str], str]) -> Section:
    """How finely every cell's peak LR was tuned: the cells whose tuned LR lies inside its grid with
    both neighbours within sqrt(2) and no divergence beside it, and every other cell, named with
    what :func:`budgetlr.study.lr_grid.flags` finds."""
    from budgetlr.study.lr_grid import flags

    rows = []
    for cell in cells:
        if found := flags(cell.val_by_lr, cell.tuned_lr):
            tuned = "–" if cell.tuned_lr is None else f"{cell.tuned_lr:g}"
            rows.append(
                [(cell.workload, ""), (short(cell.schedule), ""), (f"{cell.budget:g}", ""), (tuned, ""),
                 (", ".join(found), "")]
            )  # fmt: skip
    table = Table(["workload", "method", "budget", "tuned LR", "what is wrong"], rows) if rows else None
    return Section(
        "results/tuning.md.j2", {"cells": len(cells), "fine": len(cells) - len(rows), "table": table}
    )
