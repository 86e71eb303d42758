"""The results page's verdicts (docs/results.md): the claim's pooled verdicts, the recommender and
phi=auto judged leave-one-workload-out, the per-cell comparisons and the recommendation per budget.
Each returns the :class:`~budgetlr.study.pages.Section` its template renders."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from budgetlr.bench.methods import method
from budgetlr.bench.suites import Claim
from budgetlr.errors import InvalidInput
from budgetlr.study import recommend as study
from budgetlr.study import stats
from budgetlr.study.across import across_workloads
from budgetlr.study.analysis import Cell
from budgetlr.study.pages import Section, Table
from budgetlr.study.phis import judge_phi_auto, phi_groups, uba_phi
from budgetlr.study.stats import BOOTSTRAP_SEED

#: The budget regimes the pooled verdicts are judged in: (title, the budgets it holds).
REGIMES: tuple[tuple[str, Callable[[float], bool]], ...] = (
    ("budgets <= 0.25", lambda budget: budget <= 0.25),
    ("budgets >= 0.5", lambda budget: budget >= 0.5),
)


def paired_losses(
    cells: list[Cell], challenger: str, baseline: str
) -> dict[tuple[str, float], dict[int, tuple[float, float]]]:
    """``{(workload, budget): {seed: (challenger's test loss, baseline's)}}`` over the seeds both
    have, for every cell where both schedules hold positive held-out losses of 2 or more seeds."""
    by_key = {(c.workload, c.budget, c.schedule): c for c in cells if c.metric == "loss" and c.test}
    out = {}
    for (workload, budget, schedule), mine in by_key.items():
        other = by_key.get((workload, budget, baseline))
        if schedule != challenger or other is None:
            continue
        losses = study.paired_by_seed(mine, other)
        if losses is not None and study.positive_pairs(losses):
            out[(workload, budget)] = losses
    return out


def phi_note(schedule: str) -> str:
    """`` (phi = 1, budgetlr's default)`` for a UBA spec that leaves phi at its default, else nothing."""
    found = uba_phi(schedule)
    plain_uba = method(schedule).base.name == "uba" and "phi=" not in schedule
    return f" (phi = {found[1]:g}, budgetlr's default)" if found and plain_uba else ""


def pooled_verdicts(
    cells: list[Cell], claim: Claim, short: Callable[[str], str], main_page: bool = True, group: str = ""
) -> Section:
    """The claim's challenger against each baseline, pooled over workloads per budget regime:
    the mean log-ratio of held-out test losses with a Bonferroni-corrected 95% interval
    (:func:`budgetlr.study.stats.pooled_family`). Off the ``main_page`` (the GPU tier) it names
    no section of the main page. ``group`` names the workloads where a page splits them (the
    networks, the convex controls)."""
    challenger = method(claim.challenger).spec
    name = short(challenger)
    family: dict[str, dict[str, dict[float, tuple[list[float], list[float]]]]] = {}
    seeds: dict[str, str] = {}
    for baseline in (method(b).spec for b in (*claim.baselines, *claim.weak)):
        pairs = paired_losses(cells, challenger, baseline)
        for title, holds in REGIMES:
            by_workload: dict[str, dict[float, dict[int, tuple[float, float]]]] = defaultdict(dict)
            for (workload, budget), losses in sorted(pairs.items()):
                if holds(budget):
                    by_workload[workload][budget] = losses
            chosen = {
                w: paired for w, by_budget in by_workload.items() if (paired := study.aligned(by_budget))
            }
            if chosen:
                key = f"{baseline}|{title}"
                family[key] = chosen
                counts = sorted({len(a) for by_budget in chosen.values() for a, _ in by_budget.values()})
                seeds[key] = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    workloads_in = sorted({w for by_workload in family.values() for w in by_workload})
    fields: dict[str, Any] = {
        "main_page": main_page,
        "name": name,
        "workloads": workloads_in,
        "group": group,
        "measured": bool(cells),
    }
    if not family:
        return Section("results/verdicts.md.j2", {**fields, "table": None})
    intervals = stats.pooled_family(family, rng=np.random.default_rng(BOOTSTRAP_SEED))
    level = next(iter(intervals.values())).level
    rows = []
    for key, interval in intervals.items():
        baseline, title = key.split("|")
        pct = interval.percent()
        workloads = family[key]
        rows.append(
            [
                (short(baseline), ""),
                (title, ""),
                (f"{pct.estimate:+.2f}%", "best" if interval.high < 0 else ""),
                (f"[{pct.low:+.2f}%, {pct.high:+.2f}%]", ""),
                (verdict(interval, name), ""),
                *across_columns(workloads, level, name),
                (f"{len(workloads)} ({sum(len(b) for b in workloads.values())} cells)", ""),
                (seeds[key], ""),
            ]
        )
    header = [
        "baseline",
        "regime",
        "loss change",
        "95% interval (corrected)",
        "verdict",
        "across workloads: 95% t-interval (corrected)",
        "its verdict",
        "worst workload",
        "workloads",
        "seeds",
    ]
    fields |= {
        "challenger": challenger,
        "phi_note": phi_note(challenger),
        "comparisons": len(intervals),
        "level": level,
        "bootstrap_seed": BOOTSTRAP_SEED,
        "table": Table(header, rows),
        "per_workload": per_workload_verdicts(family, short) if len(workloads_in) > 1 else None,
    }
    return Section("results/verdicts.md.j2", fields)


#: Beyond this a loss ratio's interval says nothing, and its digits would pretend otherwise.
NO_INFORMATION_PERCENT = 10_000


def verdict(interval: stats.Interval, name: str) -> str:
    return "tie" if interval.tie else f"{name} lower" if interval.high < 0 else f"{name} higher"


def across_columns(
    workloads: dict[str, dict[float, tuple[list[float], list[float]]]], level: float, name: str
) -> list[tuple[str, str]]:
    """The random-effects interval (the workloads as a sample), its verdict, and the workload where
    the challenger fares worst; dashes for a single workload."""
    if len(workloads) < 2:
        return [("– (one workload)", ""), ("–", ""), ("–", "")]
    across = across_workloads(workloads, level=level)
    pct = across.interval.percent()
    worst = f"{across.worst} {100 * across.worst_effect:+.2f}%"
    return [
        (f"[{pct.low:+.2f}%, {upper_bound(pct.high)}]", "best" if pct.high < 0 else ""),
        (verdict(across.interval, name), ""),
        (worst, ""),
    ]


def upper_bound(percent: float) -> str:
    """An interval's upper bound in percent, written "> +10,000%" past :data:`NO_INFORMATION_PERCENT`
    (a t-interval over two workloads, one degree of freedom, can reach 10^19 %)."""
    return f"> +{NO_INFORMATION_PERCENT:,}%" if percent > NO_INFORMATION_PERCENT else f"{percent:+.2f}%"


def per_workload_verdicts(
    family: dict[str, dict[str, dict[float, tuple[list[float], list[float]]]]],
    short: Callable[[str], str],
) -> Table:
    """The pooled verdicts' comparisons on each workload alone: where an effect comes from."""
    workloads = sorted({w for cells in family.values() for w in cells})
    rows = []
    for key, cells in family.items():
        baseline, title = key.split("|")
        row = [(short(baseline), ""), (title, "")]
        for workload in workloads:
            if workload not in cells:
                row.append(("–", ""))
                continue
            interval = stats.pooled_log_ratio(
                {workload: cells[workload]}, rng=np.random.default_rng(BOOTSTRAP_SEED)
            )
            pct = interval.percent()
            row.append(
                (
                    f"{pct.estimate:+.1f}% [{pct.low:+.1f}, {pct.high:+.1f}]",
                    "best" if pct.high < 0 else "worst" if pct.low > 0 else "",
                )
            )
        rows.append(row)
    return Table(["baseline", "regime", *workloads], rows)


def loss_table(
    cells: list[Cell], exclude: Callable[[str], bool] = lambda schedule: False
) -> tuple[dict[str, dict[float, dict[str, float]]], dict[str, dict[float, dict[str, list[float]]]]]:
    """``means[workload][budget][schedule]``: mean held-out test loss of every finished loss cell
    (schedules for which ``exclude`` holds left out), and the same cells' losses over the seeds
    all of that (workload, budget)'s cells ran, in seed order (a (workload, budget) whose cells
    share fewer than 2 seeds has none)."""
    means: dict[str, dict[float, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    by_seed: dict[tuple[str, float], dict[str, dict[int, float]]] = defaultdict(dict)
    for cell in cells:
        if cell.metric != "loss" or not cell.test or exclude(cell.schedule) or not np.isfinite(cell.mean):
            continue
        means[cell.workload][cell.budget][cell.schedule] = cell.mean
        if len(cell.seeds) == len(cell.test):
            by_seed[(cell.workload, cell.budget)][cell.schedule] = dict(
                zip(cell.seeds, cell.test, strict=True)
            )
    per_seed: dict[str, dict[float, dict[str, list[float]]]] = defaultdict(dict)
    for (workload, budget), group in by_seed.items():
        shared = sorted(set.intersection(*(set(losses) for losses in group.values())))
        if len(shared) >= 2:
            per_seed[workload][budget] = {s: [losses[seed] for seed in shared] for s, losses in group.items()}
    plain = {w: {b: dict(g) for b, g in by_budget.items()} for w, by_budget in means.items()}
    return plain, dict(per_seed)


def recommender_out_of_sample(cells: list[Cell], short: Callable[[str], str]) -> Section:
    """The recommender judged leave-one-workload-out (:func:`budgetlr.study.stats.leave_one_workload_out`):
    the schedule for a budget is chosen on the other workloads and scored on the held-out one."""
    means, per_seed = loss_table(cells)
    if len(means) < 2:
        return Section("results/recommender.md.j2", {"result": None, "workloads": len(means)})
    result = stats.leave_one_workload_out(means, per_seed, rng=np.random.default_rng(BOOTSTRAP_SEED))
    rows = [
        [
            (c.workload, ""),
            (f"{c.budget:g}", ""),
            (short(c.pick), "best" if c.pick == c.best else ""),
            (short(c.best), ""),
            (f"{c.excess:+.2%}", ""),
            (short(c.fixed), ""),
            (f"{c.excess_over_fixed:+.2%}", sign_style(c.excess_over_fixed)),
            ("–" if c.best_or_tied is None else "yes" if c.best_or_tied else "no", ""),
        ]
        for c in result.cells
    ]
    header = ["held-out workload", "budget", "pick", "cell's best", "regret", "fixed (chosen without it)",
              "pick vs fixed", "best or tied"]  # fmt: skip
    per_workload = [
        [
            (workload, ""),
            (short(fixed), ""),
            (f"{regret:+.2%}", ""),
            (f"{over:+.2%}", sign_style(over)),
        ]
        for workload, (fixed, regret, over) in result.by_workload().items()
    ]
    fields = {
        "result": result,
        "per_workload": Table(
            [
                "held-out workload",
                "fixed schedule chosen without it",
                "regret over each cell's best",
                "pick vs that fixed schedule",
            ],
            per_workload,
        ),
        "share": result.share_best_or_tied,
        "judged": 0
        if np.isnan(result.share_best_or_tied)
        else sum(c.best_or_tied is not None for c in result.cells),
        "cells": len(result.cells),
        "table": Table(header, rows),
    }
    return Section("results/recommender.md.j2", fields)


def sign_style(change: float) -> str:
    """A loss change's mark: a gain bold, a loss bold and marked worse."""
    return "best" if change < 0 else "worst" if change > 0 else ""


def phi_auto_out_of_sample(
    cells: list[Cell], short: Callable[[str], str], notes: Mapping[str, Mapping[str, object]]
) -> list[Section]:
    """``uba(phi=auto)`` judged leave-one-workload-out against the best fixed phi
    (:func:`budgetlr.study.phis.judge_phi_auto`), and how often the phi it chose (its trials'
    ``notes``) lay outside the fixed phis it is compared with."""
    groups = phi_groups(cells)
    if groups is None:
        return []
    auto, fixed = groups
    judgement = judge_phi_auto(cells, auto, fixed)
    chosen = [
        float(phi)
        for c in cells
        if c.schedule == auto
        for key in c.keys
        if isinstance(phi := notes.get(key, {}).get("phi"), float | int)
    ]
    low, high = min(fixed.values()), max(fixed.values())
    outside = Counter(f"{phi:.3g}" for phi in chosen if not low <= phi <= high)
    fields: dict[str, Any] = {
        "auto": short(auto),
        "table": None,
        "chosen": len(chosen),
        "outside": sum(outside.values()),
        "outside_phis": ", ".join(
            f"{phi} ({n})" for phi, n in sorted(outside.items(), key=lambda item: float(item[0]))
        ),
    }
    if judgement is not None:
        rows = [
            [(w, ""), (f"{b:g}", ""), (short(pick), "")] for (w, b), pick in sorted(judgement.picks.items())
        ]
        fields |= {
            "phis": sorted(fixed.values()),
            "judgement": judgement.explain(),
            "bootstrap_seed": BOOTSTRAP_SEED,
            "table": Table(["held-out workload", "budget", "fixed phi chosen without it"], rows),
        }
    return [Section("results/phi_auto.md.j2", fields)]


def per_cell_comparisons(
    cells: list[Cell], claim: Claim, budgets: list[float], short: Callable[[str], str]
) -> list[Section]:
    """Wins, ties and losses of the claim's challenger, each (workload, budget) judged alone: a
    secondary view of the pooled verdicts, which decide."""
    challenger = method(claim.challenger).spec
    names = [method(b).spec for b in (*claim.baselines, *claim.weak)]
    h2h = study.head_to_head(cells, challenger, names)
    if not h2h:
        return []
    name = short(challenger)
    rows = [
        [(short(b), ""), *((h2h[b].get(budget, "–"), "") for budget in budgets)] for b in names if b in h2h
    ]
    table = Table([f"{name} vs (W/T/L) at budget", *(f"{b:g}" for b in budgets)], rows)
    return [Section("results/per_cell.md.j2", {"name": name, "challenger": challenger, "table": table})]


def recommendations(
    cells: list[Cell], budgets: list[float], short: Callable[[str], str], suite_option: str = ""
) -> Section:
    """What ``budgetlr recommend --budget-fraction X`` answers at each budget; ``suite_option``
    (`` --suite fair``) where the command needs it to read the database as the page does."""
    rows = []
    for budget in budgets:
        try:
            rec = study.recommend(cells, budget)
        except InvalidInput as error:  # e.g. every LR of a cell diverged: say so in the row
            rows.append([(f"{budget:g}", ""), (str(error), ""), ("", ""), ("", ""), ("", ""), ("", "")])
            continue
        top = rec.choice
        runner = (
            f"{short(rec.ranking[1].schedule)} ({rec.ranking[1].mean_excess:.1%})"
            if len(rec.ranking) > 1
            else "none"
        )
        rows.append(
            [
                (f"{budget:g}", ""),
                (short(top.schedule), "best"),
                (f"{top.mean_excess:.1%}", ""),
                (f"{top.best_or_tied}/{top.workloads}", ""),
                (runner, ""),
                (rec.confidence, ""),
            ]
        )
    counts = sorted({len(c.test) for c in cells if c.test}) or [0]
    seeds_text = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    table = Table(["budget", "use", "mean excess", "best or tied", "runner-up", "confidence"], rows)
    return Section(
        "results/recommendations.md.j2", {"seeds": seeds_text, "table": table, "suite_option": suite_option}
    )
