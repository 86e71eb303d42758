"""The study's commands: ``refine``, ``suggest-phi``, ``pbt``, ``wsd-s``, ``recommend``,
``lr-transfer`` and ``results``, each reading or adding to a results database.

Application commands: they need ``budgetlr[bench]`` (``pbt`` also ``budgetlr[ray]``).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import numpy as np

from budgetlr.bench.runner import check_lr
from budgetlr.bench.suites import SUITES
from budgetlr.cli import trial_arguments
from budgetlr.cli.arguments import (
    UsageError,
    add_command,
    add_quiet,
    at_least,
    checked,
    folder,
    output_file,
    word,
)
from budgetlr.cli.trial_arguments import (
    BENCH,
    add_budget_fraction,
    add_out,
    add_workload,
    fractions,
    peak_lr,
    seeds,
    smoothing,
)
from budgetlr.errors import InvalidInput

if TYPE_CHECKING:
    from budgetlr.study.analysis import Cell


def add_commands(commands: Any) -> None:
    parser = add_command(
        commands,
        "refine",
        refine,
        BENCH,
        help="refine a stored trial's gradient norms into a schedule file (arXiv 2310.07831)",
    )
    add_out(parser)
    parser.add_argument(
        "--trial", required=True, type=checked(word), help="the trial's key, or a unique prefix of it"
    )
    parser.add_argument(
        "--smoothing", type=checked(smoothing), default=0.1, help="median-filter width, fraction of T"
    )
    parser = add_command(
        commands,
        "suggest-phi",
        suggest_phi,
        BENCH,
        help="measure a workload's curvature and choose UBA's phi for a budget",
    )
    add_workload(parser, "digits-cnn")
    add_budget_fraction(parser, required=True, help="fraction of the full budget in (0, 1]")
    parser.add_argument(
        "--seed", type=checked(trial_arguments.seed), default=0, help="seed of the model's initialisation"
    )
    parser.add_argument(
        "--out",
        type=checked(folder),
        help="a study's results folder: also say whether phi=auto beat the best fixed phi there, out of sample",
    )
    parser = add_command(
        commands,
        "pbt",
        pbt,
        (*BENCH, "ray"),
        help="population based training of the LR on Ray Tune; replays the result",
    )
    add_workload(parser, "quadratic")
    add_budget_fraction(parser, required=True, help="fraction of the full budget in (0, 1]")
    parser.add_argument("--population", type=checked(at_least(2)), default=8, help="members (default 8)")
    parser.add_argument(
        "--interval", type=checked(at_least(1)), help="steps between exploit/explore (default: T/10)"
    )
    parser.add_argument(
        "--base-lr", type=checked(peak_lr), help="LR that lr_mult multiplies (default: middle of the grid)"
    )
    parser.add_argument(
        "--seed", type=checked(trial_arguments.seed), default=0, help="seed of the population's runs"
    )
    parser.add_argument(
        "--replay-seeds", type=checked(seeds), default="0,1,2", help="seeds of the replays from scratch"
    )
    add_out(parser)
    parser.add_argument(
        "--address", type=checked(word), help="Ray cluster address (default: start a local Ray)"
    )
    add_quiet(parser)
    parser = add_command(
        commands,
        "wsd-s",
        wsd_s,
        BENCH,
        help="several budgets from one run: WSD branches and WSD-S against separate runs",
    )
    add_workload(parser, "mnist1d-cnn")
    parser.add_argument(
        "--budgets", type=checked(fractions), default="0.1,0.25,0.5,1.0", help="fractions of the full budget"
    )
    parser.add_argument("--seeds", type=checked(seeds), default="0,1,2", help="comma-separated seeds")
    parser.add_argument("--lr", type=checked(peak_lr), help="peak LR (default: wsd's tuned LR at the largest budget "
                          "in --out's database, else the middle of the workload's grid)")  # fmt: skip
    add_out(parser)
    add_quiet(parser)
    parser = add_command(
        commands,
        "lr-transfer",
        lr_transfer,
        BENCH,
        help="run each swept schedule at the peak LR the power law of its smaller budgets predicts for the largest",
    )
    add_out(parser)
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="study", help="the suite whose workloads to transfer"
    )
    parser.add_argument(
        "--workers", type=checked(at_least(1)), help="local worker processes (default: one per core)"
    )
    add_quiet(parser)
    parser = add_command(
        commands, "recommend", recommend, BENCH, help="which schedule to use at a budget, from stored results"
    )
    add_budget_fraction(parser, required=True, help="fraction of a full budget")
    parser.add_argument(
        "--workload",
        type=checked(word),
        help="only this workload's results (default: all); also prints a peak LR for the budget",
    )
    parser.add_argument(
        "--suite",
        choices=sorted(SUITES),
        help="read the database as this suite's page does: its methods under the names it reports "
        "them by, and without its convex controls unless --workload names one",
    )
    add_out(parser)
    parser = add_command(
        commands, "results", results, BENCH, help="write a study's results page from its database"
    )
    add_out(parser)
    parser.add_argument(
        "--write", type=checked(output_file), required=True, help="the page to write, e.g. docs/results.md"
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="study", help="the suite whose claim the page tests"
    )
    parser.add_argument(
        "--gpu", type=checked(folder), help="results folder of benchmarks/gpu_study.sh, if it ran"
    )


def refine(args: argparse.Namespace) -> None:
    from budgetlr.study.refine import refine_trial

    run = refine_trial(args.out, args.trial, args.smoothing)
    print(run.summary())
    print(f"wrote {run.path} and {run.path.with_suffix('.png')}; replay it with the schedule spec:")
    print(run.spec)


def suggest_phi(args: argparse.Namespace) -> None:
    from budgetlr.adaptive.phi import suggest_phi
    from budgetlr.bench.curvature import estimate_for_workload
    from budgetlr.bench.runner import budget_steps
    from budgetlr.bench.workloads import resolve_workload
    from budgetlr.study.phis import phi_auto_verdict

    workload = resolve_workload(args.workload)
    steps = budget_steps(workload.full_budget, args.budget)
    judgement = phi_auto_verdict(args.out) if args.out is not None else None
    suggestion = suggest_phi(estimate_for_workload(workload, seed=args.seed), steps)
    print(f"{workload} at budget {args.budget} ({steps} steps): {suggestion.explain()}")
    if judgement is not None:
        print(judgement)
    print(f"uba(phi={suggestion.phi:.3g})")


def pbt(args: argparse.Namespace) -> None:
    from budgetlr.bench.executors import Execution
    from budgetlr.bench.store import Store
    from budgetlr.bench.sweep import run_configs
    from budgetlr.study.analysis import cells, on_grid
    from budgetlr.study.pbt import PBTSettings, replay_configs, run_pbt

    settings = PBTSettings(
        args.workload, args.budget, args.population, args.interval, args.seed, args.base_lr
    )
    run = run_pbt(settings, args.out, args.address, progress=not args.quiet)
    result = run.result
    print(
        f"PBT {run.settings.spec} on {result.config.workload} at budget {result.config.budget}: best member "
        f"{result.status}, validation {result.val_metric}, test {result.test_metric}; "
        f"final lr_mult of the members: {', '.join(f'{m:.3g}' for m in sorted(run.final_multipliers))}"
    )
    print(f"discovered schedule (peak LR {run.peak:.4g}): {run.replay_spec}")
    run_configs(replay_configs(run, args.replay_seeds), args.out, Execution(progress=not args.quiet))
    with Store(args.out) as store:
        trials = [
            t
            for t in on_grid(store.trials())[0]
            if t.workload == result.config.workload and t.budget == result.config.budget
        ]
    print(format_comparison(cells(trials)))


def format_comparison(group: list[Cell]) -> str:
    """The tuned schedules of one (workload, budget), best first."""
    scored = sorted((c for c in group if c.test), key=lambda c: c.mean, reverse=group[0].higher_is_better)
    lines = [f"{'schedule':48} {'peak LR':>9} {'seeds':>5} {'test ' + group[0].metric:>22}"]
    for cell in scored:
        lines.append(
            f"{cell.schedule[:48]:48} {cell.tuned_lr:9.3g} {len(cell.test):5d} "
            f"{cell.mean:12.5g} ± {cell.half_width:<8.3g}"
        )
    return "\n".join(lines)


def wsd_s(args: argparse.Namespace) -> None:
    from budgetlr.bench.sweep import progress_bar
    from budgetlr.bench.workloads import resolve_workload
    from budgetlr.study.branching import measure, save_rows, tuned_wsd_lr

    budgets, seeds = args.budgets, args.seeds
    if len(set(budgets)) < 2:
        raise UsageError(
            f"--budgets needs two or more different fractions, got {','.join(map(str, budgets))}"
        )
    workload = resolve_workload(args.workload)
    lr = args.lr if args.lr is not None else tuned_wsd_lr(args.out, str(workload), max(budgets))
    if lr is None:
        lr = workload.lrs[len(workload.lrs) // 2]
    check_lr(lr)
    args.out.mkdir(parents=True, exist_ok=True)  # a folder that cannot be made fails before training
    rows = []
    bar = progress_bar(len(seeds), not args.quiet, "budgetlr wsd-s", "seed")
    for seed in seeds:
        rows += measure(str(workload), budgets, lr, seed)
        bar.update()
    bar.close()
    path = save_rows(args.out, rows)
    print(
        f"{workload}, peak LR {lr:g}, seeds {', '.join(map(str, seeds))}: test {workload.metric}, mean over seeds"
    )
    print(f"{'budget':>8} {'steps':>6} {'separate':>10} {'branches':>10} {'WSD-S':>10}")
    for budget in sorted(set(budgets)):
        mine = [r for r in rows if r.budget == budget]
        means = [float(np.mean([getattr(r, k) for r in mine])) for k in ("separate", "branch", "wsd_s")]
        print(f"{budget:8g} {mine[0].steps:6d} " + " ".join(f"{m:10.5g}" for m in means))
    first = rows[0]
    print(
        f"steps for all budgets: separate {first.separate_steps}, branches {first.branch_steps} "
        f"({first.branch_steps / first.separate_steps:.2f}x), WSD-S {first.wsd_s_steps} "
        f"({first.wsd_s_steps / first.separate_steps:.2f}x); rows in {path}"
    )


def recommend(args: argparse.Namespace) -> None:
    from budgetlr.bench.store import Store
    from budgetlr.bench.workloads import stored_spec
    from budgetlr.study.analysis import cells, on_grid
    from budgetlr.study.recommend import peak_lr, recommend
    from budgetlr.study.results import suite_trials

    workload = None if args.workload is None else stored_spec(args.workload)
    suite = None if args.suite is None else SUITES[args.suite]
    with Store.existing(args.out) as store:
        trials = store.trials()
    if suite is None:
        trials, _ = on_grid(trials)  # the lr-transfer runs tune nothing
        controls: tuple[str, ...] = ()
    else:
        trials = suite_trials(trials, suite, suite.planned())
        controls = () if workload is not None else suite.controls
    recommendation = recommend(
        [c for c in cells(trials) if c.workload not in controls], args.budget, workload
    )
    print(recommendation.explain())
    if workload is not None:
        print(peak_lr(trials, workload, recommendation.choice.schedule, args.budget).explain())


def lr_transfer(args: argparse.Namespace) -> None:
    from budgetlr.bench.executors import Execution
    from budgetlr.bench.store import Store
    from budgetlr.bench.sweep import run_configs
    from budgetlr.study.transfer import transfer_configs

    suite = SUITES[args.suite]
    workloads = {w for part in suite.sweeps() for w in part.workloads}
    with Store.existing(args.out) as store:
        trials = [t for t in store.trials() if t.workload in workloads]
    configs = transfer_configs(trials, suite.planned())
    if not configs:
        raise InvalidInput(
            f"no schedule in {str(args.out)!r} was swept with held-out losses at 4 or more budgets and 2 or more seeds"
        )
    summary = run_configs(configs, args.out, Execution(workers=args.workers, progress=not args.quiet))
    print(
        f"{summary.planned} trials at predicted peak LRs: {summary.already_stored} already stored, "
        f"{summary.ran} run now ({summary.diverged} diverged); 'budgetlr results' reads them"
    )


def results(args: argparse.Namespace) -> None:
    from budgetlr.study.results import write_results

    if not args.write.parent.is_dir():
        raise UsageError(f"cannot write {args.write}: folder {args.write.parent} does not exist")
    print(f"wrote {write_results(args.out, args.write, SUITES[args.suite], args.gpu)} (and its plots)")
