"""A study's results page (docs/results.md): verdicts, tables and plots. Every number, grid and
spec on it is read from the database or from the suite's definition (its claim and comparisons).

budgetlr bench --suite study --out study-results
budgetlr wsd-s --workload mnist1d-cnn --out study-results   # and the other workloads
budgetlr results --out study-results --write docs/results.md
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from budgetlr.bench.methods import method
from budgetlr.bench.store import Store, Trial
from budgetlr.bench.suites import Claim, Suite
from budgetlr.bench.workloads import BUILT_IN
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, save
from budgetlr.schedules import FAMILIES, keys_of
from budgetlr.study import analysis, branching, stats, transfer
from budgetlr.study import recommend as study
from budgetlr.study.analysis import Cell
from budgetlr.study.report import (
    Block,
    Heading,
    Image,
    Paragraph,
    Table,
    budget_table,
    optimizer_sentence,
    plot_metric_vs_budget,
    slug,
    to_markdown,
)

#: UBA's phi, and the keys besides it: cosine is UBA with phi = 2 exactly, uba(phi=auto) is "auto".
Phi = tuple[tuple[tuple[str, object], ...], float | str]


def uba_phi(schedule: str) -> Phi | None:
    """``(the other keys, phi)`` of a UBA spec, cosine (phi = 2) or ``uba(phi=auto)``; else None."""
    resolved = method(schedule)
    keys = {k: v for k, v in resolved.base.to_dict().items() if k != "name"}
    phi: float | str
    if resolved.kind == "auto":
        phi = "auto"
    elif resolved.kind == "schedule" and resolved.base.name == "cosine":
        phi = 2.0
    elif resolved.kind == "schedule" and resolved.base.name == "uba":
        phi = float(keys.pop("phi", keys_of(FAMILIES["uba"])["phi"]))
    else:
        return None
    return tuple(sorted(keys.items())), phi


def warmup_of(schedule: str) -> object:
    return method(schedule).base.to_dict().get("warmup")


def shortener(schedules: Sequence[str]) -> tuple[object, Callable[[str], str]]:
    """The warmup most ``schedules`` share, and spec strings without it (the page states it once)."""
    counts = Counter(w for s in schedules if (w := warmup_of(s)) is not None)
    if not counts:
        return None, lambda schedule: schedule
    warmup = counts.most_common(1)[0][0]
    return warmup, lambda schedule: schedule.replace(f"(warmup={warmup!r})", "").replace(
        f", warmup={warmup!r}", ""
    )


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


def write_results(out: Path, page: Path, suite: Suite, gpu: Path | None = None) -> Path:
    with Store.existing(out) as store:
        trials = store.trials()
        notes = {t.key: store.notes(t.key) for t in trials if t.schedule.startswith(("uba(phi=auto", "pbt("))}
    if not trials:
        raise InvalidInput(f"the results database in {str(out)!r} holds no trials yet")
    # the runs at the LRs the transfer test predicts are off the grids: they tune no cell
    planned = suite.planned()
    grid_trials, _ = analysis.on_grid(trials, planned)
    cells = analysis.cells(grid_trials)
    plots = page.parent / page.stem
    plots.mkdir(parents=True, exist_ok=True)
    blocks = build(cells, trials, planned, notes, branching.load_rows(out), plots, page, out, suite)
    if gpu is not None:
        with Store.existing(gpu) as store:
            gpu_cells = analysis.cells(store.trials())
        blocks += gpu_section(gpu_cells, suite.claim, shortener([c.schedule for c in gpu_cells])[1])
    else:
        blocks += [
            Heading(2, "GPU tier"),
            Paragraph(
                "Not run: no GPU was available where this page was generated. `benchmarks/gpu_study.sh` runs "
                "the `text-gpt` study on one GPU and `budgetlr results --gpu gpu-results` adds its tables and "
                "verdicts here."
            ),
        ]
    page.write_text(to_markdown(blocks))
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
) -> list[Block]:
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
    blocks: list[Block] = [
        Heading(1, "Results: budgeted schedules on budgetlr's CPU suite"),
        Paragraph(
            f"Generated by `budgetlr results --out {out} --write {page}` from {len(trials)} stored trials: "
            f"{len(swept):,} of the sweep (`budgetlr bench --suite study`; {core_minutes(swept):.0f} core-minutes "
            f"of training and evaluation), {len(transferred):,} at the peak LRs the sweep's power laws predict "
            f"(`budgetlr lr-transfer`; {core_minutes(transferred):.0f} core-minutes), "
            + (
                f"{len(superseded):,} more off the grids that nothing here uses ({core_minutes(superseded):.0f} "
                "core-minutes; such as runs at the LRs a law predicted before its grid was widened), "
                if superseded
                else ""
            )
            + "then the `budgetlr wsd-s` and `budgetlr pbt` runs named below; `benchmarks/study.sh` runs them all. `docs/results/results.db` "
            "is that database without the per-step curves and gradient norms, so this page and `budgetlr "
            "recommend --out docs/results` work without rerunning anything."
        ),
        Paragraph(
            f"Workloads: {', '.join(workloads)}. Budgets: {', '.join(f'{b:g}' for b in budgets)} of each workload's "
            f"full budget. Seeds: {', '.join(map(str, seeds))}. For every (workload, schedule, budget) the peak LR is "
            "chosen on the validation loss from the workload's grid, and the test loss at that LR is reported "
            "(cross-entropy, bits per byte or excess risk; a workload's metric where its trials hold no loss). "
            f"Grids: {grids(swept, short)}."
            + (
                f" Every schedule warms up for {warmup:.0%} of its budget"
                + (f", except {' and '.join(other_warmups)}." if other_warmups else ".")
                if warmup is not None
                else ""
            )
            + (f" Built-in CPU workloads not in this database: {', '.join(missing)}." if missing else "")
            + " Spec strings leave out the values they keep at their defaults (`budgetlr list` shows them"
            + (
                f"; e.g. wsd's cooldown shape is {keys_of(FAMILIES['wsd'])['shape']})."
                if any(s.startswith("wsd(") for s in schedules)
                else ")."
            )
        ),
        Paragraph(
            "Comparisons of two schedules pair their runs by seed (same initialisation and batches): a **win** "
            "or a loss only when the 95% t-interval of the paired differences excludes 0, a tie otherwise. "
            "*Excess* is a schedule's loss (or error rate, for accuracies) over the best schedule's in the "
            "same workload and budget, minus one; averaged over workloads it ranks schedules."
        ),
    ]
    if suite.claim is not None:
        blocks += pooled_verdicts(pickable, suite.claim, short)
    blocks += recommender_out_of_sample(pickable, short)
    blocks += lr_transfer_section(laws, trials, short)
    blocks += phi_auto_out_of_sample(pickable, short)
    if suite.claim is not None:
        blocks += per_cell_comparisons(pickable, suite.claim, budgets, short)
    blocks += recommendations(pickable, budgets, short)
    blocks += phi_sensitivity(pickable, trials, notes, plots, rel)
    blocks += adaptive(cells, pickable, suite.comparisons, budgets, short)
    blocks += wsd_s(rows)
    blocks += held_out_noise(pickable, swept)
    blocks += cost(swept, transferred, superseded)
    blocks.append(Heading(2, "Every cell"))
    # The optimizer a workload runs now; trials of semantics 2 and before ran the quadratics with
    # plain SGD and schedule-free with its own defaults, so only a newer workload's is stated.
    older = {t.workload for t in trials if t.semantics < 3}
    for workload in workloads:
        mine = [c for c in pickable if c.workload == workload]
        first = mine[0]
        direction = "higher is better" if first.higher_is_better else "lower is better"
        name = slug(workload)
        plot_metric_vs_budget(mine, plots / f"{name}-budget.png")
        table = budget_table(mine)
        table.header = [table.header[0], *map(short, table.header[1:])]
        edges = sum(
            1 for c in mine if c.tuned_lr is not None and c.tuned_lr in (min(c.val_by_lr), max(c.val_by_lr))
        )
        blocks += [
            Heading(3, workload),
            Paragraph(
                f"Test {first.metric} ({direction}), mean ± sd over seeds at the tuned LR. **Bold**: best mean; "
                f"*italic*: tied with it (95% intervals overlap). {edges} of {len(mine)} cells chose an LR at the "
                f"edge of the grid.{'' if workload in older else optimizer_sentence(workload)}"
            ),
            table,
            Image(f"{rel}/{name}-budget.png", f"{workload}: test metric against budget"),
        ]
    return blocks


#: The budget regimes the pooled verdicts are judged in: (title, the budgets it holds).
REGIMES: tuple[tuple[str, Callable[[float], bool]], ...] = (
    ("budgets <= 0.25", lambda budget: budget <= 0.25),
    ("budgets >= 0.5", lambda budget: budget >= 0.5),
)
#: Seed of the bootstraps, so that the page is regenerated byte for byte.
BOOTSTRAP_SEED = 0


def core_minutes(trials: Sequence[Trial]) -> float:
    """What ``trials`` cost on one core: per (workload, budget) their number times their median
    time (training and evaluation), so that a few trials slowed by other work on the machine, or
    paused, do not count."""
    times: dict[tuple[str, float], list[float]] = defaultdict(list)
    for t in trials:
        times[(t.workload, t.budget)].append(t.wall_time)
    return sum(len(v) * float(np.median(v)) for v in times.values()) / 60


def cost(swept: list[Trial], transferred: list[Trial], superseded: list[Trial]) -> list[Block]:
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
    total = core_minutes(swept) + core_minutes(transferred)
    return [
        Heading(2, "What the study cost"),
        Paragraph(
            "Measured on the stored trials, one core each (the sweep runs one trial per core): per workload, "
            "its trials (the sweep's + the lr-transfer runs), the median time of one trial at its largest "
            "budget (training and evaluation), and core-minutes: per budget, the trials times their median "
            f"time, so that trials slowed by other work on the machine do not count. In all {total:.0f} "
            f"core-minutes, {total / 120:.1f} hours on 2 cores; docs/benchmark.md gives the wall clock."
            + (
                f" The {len(superseded):,} runs off the grids that nothing uses ({core_minutes(superseded):.0f} "
                "core-minutes) are left out: a run of the study from scratch does not make them."
                if superseded
                else ""
            )
        ),
        Table(["workload", "trials", "one trial at the largest budget", "core-minutes"], rows),
    ]


def held_out_noise(cells: list[Cell], trials: list[Trial]) -> list[Block]:
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
    return [
        Heading(2, "How noisy the held-out loss is"),
        Paragraph(
            "Per workload, medians over its trials or cells: the standard error of a trial's test loss over "
            "the test examples (sequences of text for the language models), relative to the loss; the "
            "standard deviation of the test loss across seeds at the tuned LR, relative to the mean; and the "
            "gap between the best and the median schedule of a budget. Every trial of a workload is scored on "
            "the same test examples, and an example hard for one schedule is hard for the others, so the "
            "test set's noise moves all schedules' losses together and weighs less in a comparison than this "
            "column suggests; the seed-to-seed spread is the noise the intervals above measure. The quadratics' loss is their exact excess risk, with no sampling noise (their "
            "validation and test losses are the same number)."
        ),
        Table(["workload", "test-set standard error", "seed-to-seed sd", "best to median schedule"], rows),
    ]


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
    cells: list[Cell], claim: Claim, short: Callable[[str], str], main_page: bool = True
) -> list[Block]:
    """The claim's challenger against each baseline, pooled over workloads per budget regime:
    the mean log-ratio of held-out test losses with a Bonferroni-corrected 95% interval
    (:func:`budgetlr.study.stats.pooled_family`). Off the ``main_page`` (the GPU tier) it names
    no section of the main page."""
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
    heading = Heading(
        2 if main_page else 3,
        f"Verdicts: {name}'s held-out loss against each baseline, "
        + ("pooled over workloads" if len(workloads_in) != 1 else f"on {workloads_in[0]}"),
    )
    if not family:
        return [
            heading,
            Paragraph(
                "No pooled verdicts: this database holds no paired trials with held-out losses (trial semantics 2 "
                "and later record them)."
                + (" The per-cell comparisons below use each workload's metric." if main_page else "")
            ),
        ]
    intervals = stats.pooled_family(family, rng=np.random.default_rng(BOOTSTRAP_SEED))
    level = next(iter(intervals.values())).level
    rows = []
    for key, interval in intervals.items():
        baseline, title = key.split("|")
        pct = interval.percent()
        workloads = family[key]
        says = "tie" if interval.tie else f"{name} lower" if interval.high < 0 else f"{name} higher"
        rows.append(
            [
                (short(baseline), ""),
                (title, ""),
                (f"{pct.estimate:+.2f}%", "best" if interval.high < 0 else ""),
                (f"[{pct.low:+.2f}%, {pct.high:+.2f}%]", ""),
                (says, ""),
                (f"{len(workloads)} ({sum(len(b) for b in workloads.values())} cells)", ""),
                (seeds[key], ""),
            ]
        )
    return [
        heading,
        Paragraph(
            f"The challenger is `{challenger}`{phi_note(challenger)}. "
            f"For each baseline and budget regime: the geometric-mean ratio of {name}'s test loss to the "
            "baseline's, minus 1, at each schedule's tuned LR, runs paired by seed, every workload weighing the "
            "same (cross-entropy, bits per byte and excess risk pool as log-ratios). Negative: "
            f"{name}'s loss is lower. Intervals are simultaneous 95% for all {len(intervals)} comparisons "
            f"(Bonferroni: each at {level:.2%}), from a bootstrap over seeds, a seed's runs at a workload's budgets resampled together (seed "
            f"{BOOTSTRAP_SEED}; docs/statistics.md); an interval covering 0 is a tie."
            + (
                " They hold the workloads fixed; the leave-one-workload-out evaluation below asks whether a "
                "choice carries over to a new workload."
                if main_page
                else ""
            )
        ),
        Table(
            [
                "baseline",
                "regime",
                "loss change",
                "95% interval (corrected)",
                "verdict",
                "workloads",
                "seeds",
            ],
            rows,
        ),
        *(per_workload_verdicts(family, name, short) if len(workloads_in) > 1 else []),
    ]


def per_workload_verdicts(
    family: dict[str, dict[str, dict[float, tuple[list[float], list[float]]]]],
    name: str,
    short: Callable[[str], str],
) -> list[Block]:
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
                (f"{pct.estimate:+.1f}% [{pct.low:+.1f}, {pct.high:+.1f}]", "best" if pct.high < 0 else "")
            )
        rows.append(row)
    return [
        Paragraph(
            f"The same comparisons on each workload alone: {name}'s loss change, with its 95% interval over "
            "seeds (not corrected for the number of comparisons: read them as where a pooled effect comes "
            f"from, not as verdicts). **Bold**: {name}'s loss lower beyond seed noise."
        ),
        Table(["baseline", "regime", *workloads], rows),
    ]


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


def recommender_out_of_sample(cells: list[Cell], short: Callable[[str], str]) -> list[Block]:
    """The recommender judged leave-one-workload-out (:func:`budgetlr.study.stats.leave_one_workload_out`):
    the schedule for a budget is chosen on the other workloads and scored on the held-out one."""
    heading = Heading(2, "The recommendation, tested on workloads it was not chosen on")
    means, per_seed = loss_table(cells)
    if len(means) < 2:
        return [
            heading,
            Paragraph(
                "Not evaluated: leave-one-workload-out needs held-out losses (trial semantics 2 and later) on "
                f"2 or more workloads; this database has them on {len(means)}."
            ),
        ]
    result = stats.leave_one_workload_out(means, per_seed, rng=np.random.default_rng(BOOTSTRAP_SEED))
    rows = [
        [
            (c.workload, ""),
            (f"{c.budget:g}", ""),
            (short(c.pick), "best" if c.pick == c.best else ""),
            (short(c.best), ""),
            (f"{c.excess:+.2%}", ""),
            (f"{c.excess_over_fixed:+.2%}", ""),
            ("–" if c.best_or_tied is None else "yes" if c.best_or_tied else "no", ""),
        ]
        for c in result.cells
    ]
    share = result.share_best_or_tied
    count = sum(c.best_or_tied is not None for c in result.cells)
    judged = (
        ""
        if np.isnan(share)
        else f" The pick is the best or statistically tied with it in {share:.0%} of the {count} cells"
        + ("." if count == len(result.cells) else " whose seeds could be paired.")
    )
    return [
        heading,
        Paragraph(
            "For each workload and budget, the schedule `budgetlr recommend` would pick is chosen from the "
            "other workloads alone (least mean log-loss over each cell's best, among the schedules every "
            f"workload ran at that budget), then scored on the held-out workload. Mean regret over the per-cell "
            f"best: {result.mean_excess:+.2%} (geometric mean of the loss ratios, minus 1); over the best single "
            f"fixed schedule in hindsight, `{short(result.fixed)}` (chosen on every workload, the held-out one "
            f"included, which favours it): {result.mean_excess_over_fixed:+.2%}, so "
            + (
                "choosing by budget pays even so."
                if result.mean_excess_over_fixed < 0
                else "choosing by budget did not beat always using it."
            )
            + f"{judged} Tied: the paired 95% interval of the pick against the cell's "
            "best covers 0."
        ),
        Table(
            ["held-out workload", "budget", "pick", "cell's best", "regret", "vs fixed", "best or tied"], rows
        ),
    ]


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


def phi_auto_out_of_sample(cells: list[Cell], short: Callable[[str], str]) -> list[Block]:
    """``uba(phi=auto)`` judged leave-one-workload-out against the best fixed phi
    (:func:`budgetlr.study.recommend.judge_phi_auto`)."""
    groups = phi_groups(cells)
    if groups is None:
        return []
    auto, fixed = groups
    heading = Heading(2, f"{short(auto)}, tested on workloads its rival was not chosen on")
    judgement = study.judge_phi_auto(cells, auto, fixed)
    if judgement is None:
        return [
            heading,
            Paragraph(
                "Not evaluated: this needs held-out losses (trial semantics 2 and later) of phi=auto and the fixed "
                "phis on 2 or more workloads."
            ),
        ]
    rows = [[(w, ""), (f"{b:g}", ""), (short(pick), "")] for (w, b), pick in sorted(judgement.picks.items())]
    return [
        heading,
        Paragraph(
            f"For each workload and budget, the fixed phi ({', '.join(f'{p:g}' for p in sorted(fixed.values()))}; "
            "cosine is phi = 2) with the least mean log-loss over each cell's best on the other workloads is "
            f"phi=auto's rival there. **{judgement.explain()}.** Pooled over the held-out cells, paired by seed, "
            f"bootstrap seed {BOOTSTRAP_SEED}; `budgetlr suggest-phi --out DIR` prints the same verdict."
        ),
        Table(["held-out workload", "budget", "fixed phi chosen without it"], rows),
    ]


def lr_transfer_section(
    found: Sequence[transfer.Transfer], trials: list[Trial], short: Callable[[str], str]
) -> list[Block]:
    """The power laws of the tuned LR in the budget (:func:`budgetlr.study.transfer.transfers` of
    ``trials``), fitted on the smaller budgets, and the regret of each prediction at the largest."""
    heading = Heading(2, "Peak LR across budgets: lr*(T) = a T^b, and its transfer to the largest budget")
    if not found:
        return [
            heading,
            Paragraph(
                "Not evaluated: the fit needs held-out losses (trial semantics 2 and later) at 4 or more budgets "
                "with 2 or more seeds."
            ),
        ]
    rows = []
    for item in found:
        loss = transfer.regret(item, trials)
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
    return [
        heading,
        Paragraph(
            "For each workload and schedule, the LR tuned on validation loss at each budget (refined between "
            "grid points by a parabola in log LR) is fitted by least squares in log-log on every budget but the "
            f"largest; b's 95% interval is a bootstrap over seeds (seed {BOOTSTRAP_SEED}; docs/statistics.md). "
            "The law's LR at the largest budget was then run with the same seeds (`budgetlr lr-transfer`, a "
            "step of `benchmarks/study.sh`; those runs tune no cell of this page). Regret: its test loss over "
            "the tuned grid LR's, paired by seed (geometric mean of the ratios, minus 1). Where the best LR of "
            "a budget is the smallest or largest of its grid (last column) the tuned LR is bounded by the grid, "
            "not measured, and so is the law: a b of 0 with a zero-width interval there says the grid was too "
            "narrow, not that the LR does not move."
        ),
        Table(
            [
                "workload",
                "schedule",
                "b",
                "b 95% interval",
                "predicted LR",
                "tuned LR",
                "loss regret",
                "best LR at the grid's edge at budgets",
            ],
            rows,
        ),
    ]


def per_cell_comparisons(
    cells: list[Cell], claim: Claim, budgets: list[float], short: Callable[[str], str]
) -> list[Block]:
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
    return [
        Heading(2, f"{name} against each baseline, cell by cell"),
        Paragraph(
            f"Wins/ties/losses of `{challenger}` over the workloads at each budget, each (workload, budget) "
            "judged alone by the paired 95% t-interval over its seeds, uncorrected for the number of cells. "
            "Judged alone, a cell rarely separates schedules; the pooled verdicts above weigh the same "
            "evidence together and decide."
        ),
        Table([f"{name} vs (W/T/L) at budget", *(f"{b:g}" for b in budgets)], rows),
    ]


def recommendations(cells: list[Cell], budgets: list[float], short: Callable[[str], str]) -> list[Block]:
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
    return [
        Heading(2, "Recommendation per budget"),
        Paragraph(
            "What `budgetlr recommend --budget-fraction X` answers from this database: the schedule with the "
            "least excess over the per-workload best (geometric mean over the workloads), how often it is "
            "best or tied, the runner-up, and a confidence: high when its held-out loss, pooled over the "
            "workloads and paired by seed, is below the runner-up's with a 95% interval that excludes 0; "
            "low when that interval covers 0 (where cells hold no losses: high when best or tied everywhere "
            "and beating the runner-up on some workload, medium when best or tied everywhere, low "
            f"otherwise). At {seeds_text} seeds per cell many schedules tie, so read the runner-up as a "
            "near-equal alternative."
        ),
        Table(["budget", "use", "mean excess", "best or tied", "runner-up", "confidence"], rows),
    ]


def phi_sensitivity(
    cells: list[Cell], trials: list[Trial], notes: dict[str, dict[str, object]], plots: Path, rel: Path
) -> list[Block]:
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
    return [
        Heading(2, "UBA's phi: sensitivity, and phi=auto"),
        Paragraph(
            f"Test {'loss' if all(c.metric == 'loss' for c in cells) else 'metric'} at the tuned LR for each "
            "phi (phi = 2 is cosine exactly, so the cosine runs stand for "
            "it) and for `uba(phi=auto)`, whose phi budgetlr chooses per trial from the Hessian at "
            "initialisation (docs/adaptive.md); the last column is the mean phi it chose."
        ),
        Table(["workload @ budget", *(f"phi={p:g}" for p in phis), "phi=auto", "auto chose"], rows),
        Image(f"{rel}/phi-sensitivity.png", "excess over the best phi against phi, per workload and budget"),
    ]


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
) -> list[Block]:
    schedules = {c.schedule for c in pickable}
    rows = []
    for challenger, baseline in ((method(a).spec, method(b).spec) for a, b in comparisons):
        if challenger in schedules and baseline in schedules:
            per = study.head_to_head(pickable, challenger, [baseline]).get(baseline, {})
            label = f"{short(challenger)} against {short(baseline)}"
            rows.append([(label, ""), *((per.get(b, "–"), "") for b in budgets)])
    blocks: list[Block] = [
        Heading(2, "Adaptive methods against fixed schedules"),
        Paragraph("Wins / ties / losses over the workloads, paired by seed."),
        Table(["comparison (W/T/L) at budget", *(f"{b:g}" for b in budgets)], rows),
    ]
    pbt_rows = []
    for cell in cells:
        if not cell.schedule.startswith("pbt("):
            continue
        group = [c for c in cells if c.workload == cell.workload and c.budget == cell.budget]
        replay = [c for c in group if c.schedule.startswith("array(")]
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
    if pbt_rows:
        blocks += [
            Heading(3, "Population based training (budgetlr pbt)"),
            Paragraph(
                "`budgetlr pbt --workload W --budget B --population N --interval STEPS --out DIR`: the best "
                "member's test metric (the population trained N times the budget's steps), the discovered LR "
                "schedule replayed from scratch, and the best tuned fixed schedule."
            ),
            Table(
                [
                    "workload @ budget: run",
                    "PBT best member",
                    "replayed schedule",
                    "best fixed schedule",
                    "replay's rank",
                ],
                pbt_rows,
            ),
        ]
    return blocks


def wsd_s(rows: list[branching.BranchRow]) -> list[Block]:
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
    seeds = sorted({r.seed for r in rows})
    settings = branching.BranchSettings()
    lrs = sorted({(r.workload, r.lr) for r in rows})
    same = all(r.branch == r.separate or (r.branch != r.branch and r.separate != r.separate) for r in rows)
    return [
        Heading(2, "WSD-S: several budgets from one run"),
        Paragraph(
            f"`budgetlr wsd-s --workload W --out DIR` (arXiv 2410.05192): WSD with a {settings.shape} cooldown over "
            f"the last {settings.decay:.0%} of each budget and a warmup of {settings.warmup:.0%} of the smallest, at "
            f"peak LR {', '.join(f'{lr:g} ({w})' for w, lr in lrs)}, seeds {', '.join(map(str, seeds))}. "
            "*Separate*: one run per budget. *Branches*: one stable run, each cooldown branched from its "
            "checkpoint; with the same batches at the same step a branch is the separate run, and the numbers "
            f"{'match exactly' if same else 'differ'}. *WSD-S*: one run that returns to the peak LR from each "
            "decayed checkpoint; each of its decays takes the last "
            f"{settings.decay:.0%} of its own segment between budgets. Test metric, mean over seeds; the last column is WSD-S minus separate."
        ),
        Table(["workload @ budget", "separate", "branches", "WSD-S", "WSD-S − separate"], table_rows),
    ]


def gpu_section(cells: list[Cell], claim: Claim | None, short: Callable[[str], str]) -> list[Block]:
    """The GPU study's cells, judged as the CPU study's are: the claim's verdicts on its workloads."""
    blocks: list[Block] = [Heading(2, "GPU tier")]
    for workload in sorted({c.workload for c in cells}):
        mine = [c for c in cells if c.workload == workload]
        table = budget_table(mine)
        table.header = [table.header[0], *map(short, table.header[1:])]
        blocks += [
            Heading(3, workload),
            Paragraph(f"Test {mine[0].metric} at the tuned LR (benchmarks/gpu_study.sh)."),
            table,
        ]
    if claim is not None:
        blocks += pooled_verdicts(cells, claim, short, main_page=False)
    return blocks


__all__ = ["write_results"]
