"""``budgetlr bench``, ``report``, ``export`` and ``export-runs``: run a sweep into the results
database, and read it.

Application commands: they need ``budgetlr[bench]``.
"""

from __future__ import annotations

import argparse
from typing import Any

from budgetlr.bench.suites import SUITES, Suite
from budgetlr.cli.arguments import (
    UsageError,
    add_command,
    add_quiet,
    at_least,
    checked,
    folder,
    output_file,
    specs,
    word,
)
from budgetlr.cli.trial_arguments import (
    BENCH,
    add_budget_fraction,
    add_out,
    fractions,
    peak_lr,
    peak_lrs,
    seed,
    seeds,
)


def add_commands(commands: Any) -> None:
    parser = add_command(
        commands, "bench", bench, BENCH, help="run a budgeted-training sweep and write its report"
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), default="quick", help="defaults for every option below"
    )
    parser.add_argument(
        "--workload",
        type=checked(specs),
        help="comma-separated workload specs, e.g. mnist1d-cnn or pkg.mod:MyWorkload",
    )
    parser.add_argument(
        "--schedules", type=checked(specs), help='comma-separated schedule specs, e.g. "cosine,uba(phi=0.5)"'
    )
    parser.add_argument(
        "--budgets", type=checked(fractions), help="comma-separated fractions of the full budget in (0, 1]"
    )
    parser.add_argument(
        "--lrs", type=checked(peak_lrs), help="comma-separated peak LRs (default: each workload's own grid)"
    )
    parser.add_argument("--seeds", type=checked(seeds), help="comma-separated seeds")
    add_out(parser)
    parser.add_argument("--executor", choices=["local", "ray"], default="local")
    parser.add_argument(
        "--workers", type=checked(at_least(1)), help="local worker processes (default: one per core)"
    )
    parser.add_argument(
        "--address", type=checked(word), help="Ray cluster address (default: start a local Ray)"
    )
    parser.add_argument(
        "--tuner",
        choices=["grid", "optuna"],
        default="grid",
        help="grid: every LR of --lrs; optuna: a TPE study",
    )
    parser.add_argument(
        "--trials",
        type=checked(at_least(1)),
        help="Optuna trials per workload, schedule and budget (default 12)",
    )
    parser.add_argument("--no-report", action="store_true", help="only run the sweep")
    add_quiet(parser)
    parser = add_command(
        commands, "report", report, BENCH, help="write report.md, report.html and plots from the database"
    )
    add_out(parser)
    parser.add_argument(
        "--to", type=checked(folder), help="the folder to write the report into (default: the results folder)"
    )
    parser = add_command(commands, "export", export, BENCH, help="write every stored trial to a CSV file")
    add_out(parser)
    parser.add_argument("file", type=checked(output_file), metavar="FILE.csv")
    parser = add_command(
        commands, "export-runs", export_runs, BENCH, help="write stored trials as runs for budgetlr plan fit"
    )
    add_out(parser)
    parser.add_argument(
        "folder", type=checked(folder), metavar="FOLDER", help="where to write one CSV per run"
    )
    parser.add_argument("--workload", type=checked(word), help="only this workload (a workload spec)")
    parser.add_argument("--schedule", type=checked(word), help="only this schedule spec (as stored)")
    add_budget_fraction(parser, required=False, help="only this budget fraction")
    parser.add_argument("--lr", type=checked(peak_lr), help="only this peak LR")
    parser.add_argument("--seed", type=checked(seed), help="only this seed (default: every seed, averaged)")


def bench(args: argparse.Namespace) -> None:
    from budgetlr.bench.executors import Execution
    from budgetlr.bench.sweep import make_plan, run_sweep
    from budgetlr.study.report import write_report

    suite = SUITES[args.suite]
    if args.address and args.executor != "ray":
        raise UsageError("--address goes with --executor ray")
    if args.trials is not None and args.tuner != "optuna":
        raise UsageError("--trials goes with --tuner optuna")
    plans = [
        make_plan(
            workloads=workloads,
            schedules=args.schedules or part.schedules,
            budgets=args.budgets or part.budgets,
            seeds=args.seeds or part.seeds,
            lrs=args.lrs,
            grids=part.lrs,
        )
        for part, workloads in sweeps_of(suite, args.workload)
    ]
    execution = Execution(args.executor, args.workers, args.address, progress=not args.quiet)
    if args.tuner == "optuna":
        from budgetlr.study.tune import tune_with_optuna

        for plan in plans:
            for study in tune_with_optuna(
                plan,
                args.out,
                12 if args.trials is None else args.trials,
                execution,
            ):
                print(
                    f"{study.name}: {study.trials} trials, best validation {study.best_value} at {study.best_params}"
                )
        print(f"studies in {args.out / 'optuna.db'}; trials in {args.out / 'results.db'}")
    else:
        if suite.refine and not args.lrs:
            from budgetlr.study.finegrid import run_fine_sweep

            fine = run_fine_sweep(plans, args.out, execution)
            summary = fine.summary
            print(
                f"LR grids refined in {fine.rounds} rounds after the coarse pass (neighbours of each tuned LR within sqrt(2))"
            )
        else:
            summary = run_sweep(plans, args.out, execution)
        for semantics, count in sorted(summary.not_reused.items(), key=str):
            print(not_reused_line(semantics, count))
        elsewhere = f", {summary.ran_elsewhere} run by another sweep" if summary.ran_elsewhere else ""
        print(
            f"{summary.planned} trials planned: {summary.already_stored} already stored, {summary.ran} run now "
            f"({summary.diverged} diverged){elsewhere}; database {args.out / 'results.db'}"
        )
    if not args.no_report:
        print(f"wrote {write_report(args.out)} (and report.html, plots/)")


def sweeps_of(suite: Suite, workloads: list[str] | None) -> list[tuple[Suite, tuple[str, ...]]]:
    """The suite's sweeps with their workloads; ``--workload`` runs each workload it names in
    the first sweep that holds it (with that sweep's schedules, seeds and grids), and one the
    suite does not hold in its first sweep."""
    parts = suite.sweeps()
    if not workloads:
        return [(part, part.workloads) for part in parts]
    from budgetlr.bench.workloads import stored_spec

    chosen: dict[int, list[str]] = {}
    for workload in workloads:
        spec = stored_spec(workload)
        index = next((i for i, part in enumerate(parts) if spec in part.workloads), 0)
        chosen.setdefault(index, []).append(workload)
    return [(parts[i], tuple(chosen[i])) for i in sorted(chosen)]


def not_reused_line(semantics: int | None, count: int) -> str:
    from budgetlr.bench.runner import TRIAL_SEMANTICS

    if semantics is None:
        return (
            f"{count} stored trials were run again: their workload's data, or the rule that sets "
            "uba(phi=auto)'s phi, changed since they were made"
        )
    made = "stored by an older budgetlr, which did not record them" if semantics == 0 else ""
    return (
        f"{count} stored trials were run again: they were made under trial semantics {semantics}"
        f"{made and ' (' + made + ')'}, and this budgetlr computes trials under semantics {TRIAL_SEMANTICS}, "
        "so their results would differ (CHANGELOG.md lists each change of trial semantics)"
    )


def report(args: argparse.Namespace) -> None:
    from budgetlr.study.report import write_report

    print(f"wrote {write_report(args.out, args.to)} (and report.html, plots/)")


def export(args: argparse.Namespace) -> None:
    from budgetlr.bench.store import Store

    with Store.existing(args.out) as store:
        count = store.export_csv(args.file)
    print(f"wrote {count} trials to {args.file}")


def export_runs(args: argparse.Namespace) -> None:
    from budgetlr.bench.runs import Selection, stored_runs
    from budgetlr.bench.store import Store
    from budgetlr.bench.workloads import stored_spec
    from budgetlr.errors import InvalidInput
    from budgetlr.plan.runs import write_run

    workload = None if args.workload is None else stored_spec(args.workload)
    selection = Selection(workload, args.schedule, args.budget, args.lr, args.seed)
    with Store.existing(args.out) as store:
        runs, skipped = stored_runs(store, selection)
    if not runs:
        raise InvalidInput(f"no run to write: {len(skipped)} settings left out, the first: {skipped[0]}")
    paths = [args.folder / f"{run.name}.csv" for run in runs]
    existing = [path for path in paths if path.exists()]
    if existing:
        raise InvalidInput(f"{existing[0]} exists: budgetlr never writes over a run; choose another folder")
    args.folder.mkdir(parents=True, exist_ok=True)
    for run, path in zip(runs, paths, strict=True):
        write_run(run, path)
    for line in skipped:
        print(f"left out {line}")
    print(f"wrote {len(runs)} runs to {args.folder}")
