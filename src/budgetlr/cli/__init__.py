"""``budgetlr``: the command line.

Every argument is checked when it is parsed (:func:`build_parser`'s ``type=`` functions), before
anything runs or is stored. Bad input (a :class:`UsageError` or the project's
:class:`~budgetlr.errors.InvalidInput`), a missing extra or an operating-system error (disk full,
permission denied) prints one line on stderr and exits with code 2; any other exception is a bug
and keeps its traceback. ``--debug`` (or ``BUDGETLR_DEBUG=1``) shows the traceback of every error
and the libraries' warnings, which are otherwise silenced.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from budgetlr._extras import MissingExtra
from budgetlr.bench.runner import check_lr
from budgetlr.bench.suites import SUITES
from budgetlr.cli import arguments, plan
from budgetlr.cli.arguments import (
    Parser,
    UsageError,
    at_least,
    checked,
    folder,
    fraction,
    fractions,
    output_file,
    peak_lr,
    peak_lrs,
    plot_file,
    positive,
    seeds,
    smoothing,
    specs,
    word,
)
from budgetlr.errors import InvalidInput
from budgetlr.schedules import FAMILIES, BoundSchedule, keys_of, parse, schedule
from budgetlr.schedules.budget import Budget
from budgetlr.schedules.shapes import OWN_SHAPES, SHAPES

if TYPE_CHECKING:
    from budgetlr.study.analysis import Cell

TABLE_ROWS = 25
#: A plot draws at most this many points of a curve; a CSV holds at most this many steps.
PLOT_POINTS = 2000
MAX_CSV_STEPS = 1_000_000
DEFAULT_OUT = Path("budgetlr-results")
DEBUG_VARIABLE = "BUDGETLR_DEBUG"
#: Top-level modules of the optional extras: a missing one is a one-line message, not a bug.
OPTIONAL_MODULES = frozenset(
    {"sklearn", "mnist1d", "scipy", "tqdm", "schedulefree", "matplotlib", "ray", "lightning",
     "transformers", "accelerate", "jax", "optax", "optuna", "torchvision"}
)  # fmt: skip


def build_parser() -> Parser:
    parser = Parser(prog="budgetlr", description="Learning-rate schedules for budgeted training.")
    parser.add_argument(
        "--debug", action="store_true", help=f"show the traceback of any error (or set {DEBUG_VARIABLE}=1)"
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser(
        "list", help="list schedule families, their keys, defaults, papers and budgetlr's own extensions"
    )
    show = commands.add_parser("show", help="print (and plot) the LR curve of one or more specs")
    show.add_argument("specs", nargs="+", metavar="SPEC", help='e.g. "uba(phi=0.5, warmup=0.05)"')
    budget = show.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=checked(at_least(1)), help="the budget T in optimizer steps")
    budget.add_argument(
        "--budget",
        type=checked(Budget.parse),
        help='a budget in tokens, samples or time, e.g. "2e9 tokens", "50000 samples", "3h"',
    )
    show.add_argument(
        "--per-step",
        type=checked(positive),
        help="with --budget: the tokens or samples each step consumes, or the seconds a step takes",
    )
    show.add_argument("--peak", type=checked(peak_lr), default=1.0, help="peak LR (default 1: multipliers)")
    show.add_argument(
        "--csv", type=checked(output_file), help="write the LR at every step 0..T to this CSV file"
    )
    show.add_argument(
        "--plot",
        type=checked(plot_file),
        help="draw all curves on one figure into this .png, .pdf or .svg file",
    )

    bench = commands.add_parser("bench", help="run a budgeted-training sweep and write its report")
    bench.add_argument(
        "--suite", choices=sorted(SUITES), default="quick", help="defaults for every option below"
    )
    bench.add_argument(
        "--workload",
        type=checked(specs),
        help="comma-separated workload specs, e.g. mnist1d-cnn or pkg.mod:MyWorkload",
    )
    bench.add_argument(
        "--schedules", type=checked(specs), help='comma-separated schedule specs, e.g. "cosine,uba(phi=0.5)"'
    )
    bench.add_argument(
        "--budgets", type=checked(fractions), help="comma-separated fractions of the full budget in (0, 1]"
    )
    bench.add_argument(
        "--lrs", type=checked(peak_lrs), help="comma-separated peak LRs (default: each workload's own grid)"
    )
    bench.add_argument("--seeds", type=checked(seeds), help="comma-separated seeds")
    add_out(bench)
    bench.add_argument("--executor", choices=["local", "ray"], default="local")
    bench.add_argument(
        "--workers", type=checked(at_least(1)), help="local worker processes (default: one per core)"
    )
    bench.add_argument(
        "--address", type=checked(word), help="Ray cluster address (default: start a local Ray)"
    )
    bench.add_argument(
        "--tuner",
        choices=["grid", "optuna"],
        default="grid",
        help="grid: every LR of --lrs; optuna: a TPE study",
    )
    bench.add_argument(
        "--trials",
        type=checked(at_least(1)),
        help="Optuna trials per workload, schedule and budget (default 12)",
    )
    bench.add_argument("--no-report", action="store_true", help="only run the sweep")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")

    report = commands.add_parser("report", help="write report.md, report.html and plots from the database")
    add_out(report)

    export = commands.add_parser("export", help="write every stored trial to a CSV file")
    add_out(export)
    export.add_argument("file", type=checked(output_file), metavar="FILE.csv")

    refine = commands.add_parser(
        "refine", help="refine a stored trial's gradient norms into a schedule file (arXiv 2310.07831)"
    )
    add_out(refine)
    refine.add_argument(
        "--trial", required=True, type=checked(word), help="the trial's key, or a unique prefix of it"
    )
    refine.add_argument(
        "--smoothing", type=checked(smoothing), default=0.1, help="median-filter width, fraction of T"
    )

    suggest = commands.add_parser(
        "suggest-phi", help="measure a workload's curvature and choose UBA's phi for a budget"
    )
    suggest.add_argument(
        "--workload", required=True, type=checked(word), help="a workload spec, e.g. digits-cnn"
    )
    suggest.add_argument(
        "--budget", type=checked(fraction), required=True, help="fraction of the full budget in (0, 1]"
    )
    suggest.add_argument(
        "--seed", type=checked(arguments.seed), default=0, help="seed of the model's initialisation"
    )
    suggest.add_argument(
        "--out",
        type=checked(folder),
        help="a study's results folder: also say whether phi=auto beat the best fixed phi there, out of sample",
    )

    pbt = commands.add_parser(
        "pbt", help="population based training of the LR on Ray Tune; replays the result"
    )
    pbt.add_argument("--workload", required=True, type=checked(word), help="a workload spec, e.g. quadratic")
    pbt.add_argument(
        "--budget", type=checked(fraction), required=True, help="fraction of the full budget in (0, 1]"
    )
    pbt.add_argument("--population", type=checked(at_least(2)), default=8, help="members (default 8)")
    pbt.add_argument(
        "--interval", type=checked(at_least(1)), help="steps between exploit/explore (default: T/10)"
    )
    pbt.add_argument(
        "--base-lr", type=checked(peak_lr), help="LR that lr_mult multiplies (default: middle of the grid)"
    )
    pbt.add_argument("--seed", type=checked(arguments.seed), default=0, help="seed of the population's runs")
    pbt.add_argument(
        "--replay-seeds", type=checked(seeds), default="0,1,2", help="seeds of the replays from scratch"
    )
    add_out(pbt)
    pbt.add_argument("--address", type=checked(word), help="Ray cluster address (default: start a local Ray)")
    pbt.add_argument("--quiet", action="store_true", help="no progress bar")

    branches = commands.add_parser(
        "wsd-s", help="several budgets from one run: WSD branches and WSD-S against separate runs"
    )
    branches.add_argument(
        "--workload", required=True, type=checked(word), help="a workload spec, e.g. mnist1d-cnn"
    )
    branches.add_argument(
        "--budgets", type=checked(fractions), default="0.1,0.25,0.5,1.0", help="fractions of the full budget"
    )
    branches.add_argument("--seeds", type=checked(seeds), default="0,1,2", help="comma-separated seeds")
    branches.add_argument("--lr", type=checked(peak_lr), help="peak LR (default: wsd's tuned LR at the largest budget "
                          "in --out's database, else the middle of the workload's grid)")  # fmt: skip
    add_out(branches)
    branches.add_argument("--quiet", action="store_true", help="no progress bar")

    transfer = commands.add_parser(
        "lr-transfer",
        help="run each swept schedule at the peak LR the power law of its smaller budgets predicts for the largest",
    )
    add_out(transfer)
    transfer.add_argument(
        "--suite", choices=sorted(SUITES), default="study", help="the suite whose workloads to transfer"
    )
    transfer.add_argument(
        "--workers", type=checked(at_least(1)), help="local worker processes (default: one per core)"
    )
    transfer.add_argument("--quiet", action="store_true", help="no progress bar")

    recommend = commands.add_parser(
        "recommend", help="which schedule to use at a budget, from stored results"
    )
    recommend.add_argument(
        "--budget-fraction", type=checked(fraction), required=True, help="fraction of a full budget"
    )
    recommend.add_argument(
        "--workload",
        type=checked(word),
        help="only this workload's results (default: all); also prints a peak LR for the budget",
    )
    add_out(recommend)

    results = commands.add_parser("results", help="write a study's results page from its database")
    add_out(results)
    results.add_argument(
        "--write", type=checked(output_file), required=True, help="the page to write, e.g. docs/results.md"
    )
    results.add_argument(
        "--suite", choices=sorted(SUITES), default="study", help="the suite whose claim the page tests"
    )
    results.add_argument(
        "--gpu", type=checked(folder), help="results folder of benchmarks/gpu_study.sh, if it ran"
    )
    plan.add_commands(commands)
    return parser


def add_out(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--out",
        type=checked(folder),
        default=str(DEFAULT_OUT),
        help="results folder (default budgetlr-results)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
    try:
        args = build_parser().parse_args(argv)
        with warnings.catch_warnings():
            if not debug:  # libraries' warnings (matplotlib's layout, numpy's overflow) are terminal noise
                warnings.simplefilter("ignore")
            COMMANDS[args.command](args)
    except (InvalidInput, MissingExtra, OSError) as error:
        if debug:
            raise
        return fail(str(error))
    except ModuleNotFoundError as error:
        if debug or (error.name or "").partition(".")[0] not in OPTIONAL_MODULES:
            raise
        return fail(f"missing {error.name}, which an extra provides: pip install 'budgetlr[bench]'")
    except KeyboardInterrupt:
        print(
            "budgetlr: interrupted; finished trials are stored: rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    return 0


def fail(message: str) -> int:
    """Exit code 2 with ``message`` as one line on stderr."""
    print(f"budgetlr: error: {' '.join(message.split())}", file=sys.stderr)
    return 2


def list_families(args: argparse.Namespace) -> None:
    print(format_families())


def format_families() -> str:
    lines = []
    for name, family in sorted(FAMILIES.items()):
        paper = f"  [arXiv {family.paper}]" if family.paper else ""
        keys = ", ".join(f"{k}={v!r}" if v is not None else k for k, v in keys_of(family).items())
        implied = "".join(
            f"; {key} defaults to {fraction} of total_steps"
            for key, fraction in family.default_fractions.items()
        )
        summary = " ".join((family.__doc__ or "").strip().split("\n\n")[0].split())
        lines.append(f"{name}{paper}\n    {summary}\n    keys: {keys}{implied}")
        lines += [f"    budgetlr's own ({key}): {what}" for key, what in family.extensions.items()]
    published = ", ".join(shape for shape in SHAPES if shape not in OWN_SHAPES)
    lines.append(
        f"cooldown shapes (wsd, power, BudgetScheduler.cooldown)\n    {published}  [arXiv 2405.18392]"
    )
    lines += [f"    budgetlr's own: {shape} = {what}" for shape, what in OWN_SHAPES.items()]
    return "\n".join([*lines, CONVENTIONS])


#: Where budgetlr differs from PyTorch, transformers and optax, and the setting that matches them.
CONVENTIONS = """
conventions
    warmup: step t < W runs at (t + 1) / (W + 1) of the peak (step 0 is not wasted at LR 0);
    transformers' and optax's warmups ramp t / W from 0. budgetlr's ramp is
    LinearLR(start_factor=1 / (W + 1), total_iters=W) in PyTorch and
    optax.linear_schedule(peak / (W + 1), peak, W) in optax; after the warmup the curves agree.
    floor: reached by interpolation, lr = peak * (floor + (1 - floor) * m); exponential and
    infinite default to floor=0.01, so exponential(gamma=0.99) is 0.01 + 0.99 * 0.99^t and
    exponential(gamma=0.99, floor=0) is ExponentialLR(gamma=0.99) / optax.exponential_decay(peak, 1, 0.99)."""


def show(args: argparse.Namespace) -> None:
    budget = Budget(args.steps) if args.budget is None else args.budget
    if budget.in_steps:
        if args.per_step is not None:
            raise UsageError("--per-step goes with a --budget in tokens, samples or time")
        curves = [schedule(spec, int(budget.amount)) for spec in args.specs]
        table = Table(
            [str(c) for c in curves], [closed_form(c, args.peak) for c in curves], int(budget.amount)
        )
        warmups = [c.spec.warmup_end(c.total_steps) for c in curves]
    else:
        per_step = check_per_step(args.per_step, budget)
        lrs = [preview(spec, budget, per_step, args.peak) for spec in args.specs]
        table = Table(
            [str(parse(spec)) for spec in args.specs],
            [recorded(lr) for lr in lrs],
            min(len(lr) for lr in lrs) - 1,
            budget.unit,
            per_step,
        )
        warmups = (
            []
            if budget.unit == "seconds"
            else [round(parse(spec).warmup_end(int(budget.amount)) / per_step) for spec in args.specs]
        )
    if args.csv and table.total_steps + 1 > MAX_CSV_STEPS:
        raise UsageError(
            f"--csv writes every step: at most {MAX_CSV_STEPS - 1} --steps, got {table.total_steps}"
        )
    print(table.format(warmups))
    if args.csv:
        table.write_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        table.plot(args.plot, args.peak, str(budget))
        print(f"wrote {args.plot}")


#: ``budgetlr show --budget`` steps a scheduler through the whole run: at most this many steps.
MAX_PREVIEW_STEPS = 1_000_000


def check_per_step(per_step: float | None, budget: Budget) -> float:
    what = "seconds a step takes" if budget.unit == "seconds" else f"{budget.unit} each step consumes"
    if per_step is None:
        raise UsageError(f"a --budget in {budget.unit} needs --per-step: the {what}")
    if budget.amount / per_step > MAX_PREVIEW_STEPS:
        raise UsageError(
            f"--budget {budget} at --per-step {per_step:g} is {budget.amount / per_step:.3g} steps; "
            f"the preview steps through at most {MAX_PREVIEW_STEPS:,}"
        )
    return per_step


def preview(spec: str, budget: Budget, per_step: float, peak: float) -> np.ndarray:
    """The LR of every step of a steady run (``per_step`` consumed, or seconds, each step) under
    ``budget``, then the value after training: a :class:`~budgetlr.torch.BudgetScheduler` stepped
    through it, a simulated clock for a time budget."""
    import torch

    from budgetlr.torch import BudgetScheduler

    elapsed = [0.0]
    timed = budget.unit == "seconds"
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=peak)
    if timed:
        scheduler = BudgetScheduler(optimizer, spec, budget=budget, clock=lambda: elapsed[0])
    else:
        scheduler = BudgetScheduler(optimizer, spec, budget=budget, per_step=per_step)
    lrs = [scheduler.get_last_lr()[0]]
    while not scheduler.finished:
        elapsed[0] += per_step
        optimizer.step()
        scheduler.report(**({} if timed else {budget.unit: per_step}))
        scheduler.step()
        lrs.append(scheduler.get_last_lr()[0])
    return np.array(lrs)


def bench(args: argparse.Namespace) -> None:
    from budgetlr.bench.sweep import make_plan, run_sweep
    from budgetlr.study.report import write_report

    suite = SUITES[args.suite]
    if args.address and args.executor != "ray":
        raise UsageError("--address goes with --executor ray")
    if args.trials is not None and args.tuner != "optuna":
        raise UsageError("--trials goes with --tuner optuna")
    plans = [
        make_plan(
            workloads=args.workload or part.workloads,
            schedules=args.schedules or part.schedules,
            budgets=args.budgets or part.budgets,
            seeds=args.seeds or part.seeds,
            lrs=args.lrs,
            grids=part.lrs,
        )
        for part in suite.sweeps()
    ]
    if args.tuner == "optuna":
        from budgetlr.study.tune import tune_with_optuna

        for plan in plans:
            for study in tune_with_optuna(
                plan,
                args.out,
                12 if args.trials is None else args.trials,
                args.executor,
                args.workers,
                args.address,
                progress=not args.quiet,
            ):
                print(
                    f"{study.name}: {study.trials} trials, best validation {study.best_value} at {study.best_params}"
                )
        print(f"studies in {args.out / 'optuna.db'}; trials in {args.out / 'results.db'}")
    else:
        summary = run_sweep(
            plans, args.out, args.executor, args.workers, args.address, progress=not args.quiet
        )
        for semantics, count in sorted(summary.not_reused.items(), key=str):
            print(not_reused_line(semantics, count))
        elsewhere = f", {summary.ran_elsewhere} run by another sweep" if summary.ran_elsewhere else ""
        print(
            f"{summary.planned} trials planned: {summary.already_stored} already stored, {summary.ran} run now "
            f"({summary.diverged} diverged){elsewhere}; database {args.out / 'results.db'}"
        )
    if not args.no_report:
        print(f"wrote {write_report(args.out)} (and report.html, plots/)")


def not_reused_line(semantics: int | None, count: int) -> str:
    from budgetlr.bench.runner import TRIAL_SEMANTICS

    if semantics is None:
        return f"{count} stored trials were run again: their workload's data changed since they were made"
    made = "stored by an older budgetlr, which did not record them" if semantics == 0 else ""
    return (
        f"{count} stored trials were run again: they were made under trial semantics {semantics}"
        f"{made and ' (' + made + ')'}, and this budgetlr computes trials under semantics {TRIAL_SEMANTICS}, "
        "so their results would differ (CHANGELOG.md lists each change of trial semantics)"
    )


def report(args: argparse.Namespace) -> None:
    from budgetlr.study.report import write_report

    print(f"wrote {write_report(args.out)} (and report.html, plots/)")


def export(args: argparse.Namespace) -> None:
    from budgetlr.bench.store import Store

    with Store.existing(args.out) as store:
        count = store.export_csv(args.file)
    print(f"wrote {count} trials to {args.file}")


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

    workload = resolve_workload(args.workload)
    steps = budget_steps(workload.full_budget, args.budget)
    judgement = phi_auto_judgement(args.out) if args.out is not None else None
    suggestion = suggest_phi(estimate_for_workload(workload, seed=args.seed), steps)
    print(f"{workload} at budget {args.budget} ({steps} steps): {suggestion.explain()}")
    if judgement is not None:
        print(judgement)
    print(f"uba(phi={suggestion.phi:.3g})")


def phi_auto_judgement(out: Path) -> str:
    """What a study in ``out`` says of phi=auto out of sample, in one line."""
    from budgetlr.bench.store import Store
    from budgetlr.study.analysis import cells, on_grid
    from budgetlr.study.recommend import is_pickable, judge_phi_auto
    from budgetlr.study.results import phi_groups

    with Store.existing(out) as store:
        measured = [c for c in cells(on_grid(store.trials())[0]) if is_pickable(c.schedule)]
    groups = phi_groups(measured)
    judgement = None if groups is None else judge_phi_auto(measured, *groups)
    if judgement is None:
        return f"{out} holds no out-of-sample test of phi=auto (it needs held-out losses of phi=auto and fixed phis on 2+ workloads)"
    return judgement.explain()


def pbt(args: argparse.Namespace) -> None:
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
    run_configs(replay_configs(run, args.replay_seeds), args.out, progress=not args.quiet)
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
    from budgetlr.study.branching import measure, save_rows

    budgets, seeds = args.budgets, args.seeds
    if len(set(budgets)) < 2:
        raise UsageError(
            f"--budgets needs two or more different fractions, got {','.join(map(str, budgets))}"
        )
    workload = resolve_workload(args.workload)
    lr = args.lr if args.lr is not None else default_wsd_lr(args.out, str(workload), max(budgets))
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


def default_wsd_lr(out: Path, workload: str, budget: float) -> float | None:
    """wsd's tuned peak LR at ``budget`` in ``out``'s database, if it holds one."""
    from budgetlr.bench.store import DB_NAME, Store
    from budgetlr.study.analysis import cells, on_grid

    if not (out / DB_NAME).is_file():
        return None
    with Store.existing(out) as store:
        mine = [
            t
            for t in on_grid(store.trials())[0]
            if t.workload == workload and t.budget == budget and t.schedule.startswith("wsd")
        ]
    tuned = [c.tuned_lr for c in cells(mine) if c.tuned_lr is not None]
    return tuned[0] if tuned else None


def recommend(args: argparse.Namespace) -> None:
    from budgetlr.bench.store import Store
    from budgetlr.study.analysis import cells, on_grid
    from budgetlr.study.recommend import peak_lr, recommend

    with Store.existing(args.out) as store:
        trials, _ = on_grid(store.trials())  # the lr-transfer runs tune nothing
    recommendation = recommend(cells(trials), args.budget_fraction, args.workload)
    print(recommendation.explain())
    if args.workload is not None:
        print(peak_lr(trials, args.workload, recommendation.choice.schedule, args.budget_fraction).explain())


def lr_transfer(args: argparse.Namespace) -> None:
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
    summary = run_configs(configs, args.out, workers=args.workers, progress=not args.quiet)
    print(
        f"{summary.planned} trials at predicted peak LRs: {summary.already_stored} already stored, "
        f"{summary.ran} run now ({summary.diverged} diverged); 'budgetlr results' reads them"
    )


def results(args: argparse.Namespace) -> None:
    from budgetlr.study.results import write_results

    if not args.write.parent.is_dir():
        raise UsageError(f"cannot write {args.write}: folder {args.write.parent} does not exist")
    print(f"wrote {write_results(args.out, args.write, SUITES[args.suite], args.gpu)} (and its plots)")


def table_steps(total_steps: int, warmups: list[int]) -> list[int]:
    spaced = np.linspace(0, total_steps, TABLE_ROWS).round().astype(int).tolist()
    return sorted({*spaced, *warmups, total_steps - 1, total_steps} - {-1})


@dataclass(frozen=True)
class Table:
    """LR curves over steps ``0..T`` (the last value is the one after training), each a function
    of an array of steps, so a table or a plot computes only the steps it shows; in a budget not
    in steps, each step also shows the ``unit`` spent before it (``per_step`` a step)."""

    names: list[str]
    curves: list[Callable[[np.ndarray], np.ndarray]]
    total_steps: int
    unit: str = "steps"
    per_step: float = 1.0

    def spent(self, step: int) -> str:
        return f"{step * self.per_step:.6g}"

    def columns(self) -> list[str]:
        return ["step"] if self.unit == "steps" else ["step", self.unit]

    def format(self, warmups: list[int]) -> str:
        """The LRs at about ``TABLE_ROWS`` steps and at each warmup's end."""
        steps = table_steps(self.total_steps, warmups)
        lrs = [curve(np.array(steps, dtype=np.float64)) for curve in self.curves]
        widths = [max(len(n), 12) for n in self.names]
        first = [c.rjust(8) if c == "step" else c.rjust(12) for c in self.columns()]
        rows = ["  ".join([*first, *(n.rjust(w) for n, w in zip(self.names, widths, strict=True))])]
        for row, t in enumerate(steps):
            cells = (f"{lr[row]:.6g}".rjust(w) for lr, w in zip(lrs, widths, strict=True))
            spent = [] if self.unit == "steps" else [self.spent(t).rjust(12)]
            rows.append("  ".join([str(t).rjust(8), *spent, *cells]))
        return "\n".join(rows)

    def write_csv(self, path: Path) -> None:
        lrs = [curve(np.arange(self.total_steps + 1, dtype=np.float64)) for curve in self.curves]
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*self.columns(), *self.names])
            for t, row in enumerate(zip(*lrs, strict=True)):
                spent = [] if self.unit == "steps" else [self.spent(t)]
                writer.writerow([t, *spent, *(repr(float(v)) for v in row)])

    def plot(self, path: Path, peak: float, budget: str) -> None:
        """All curves on one figure, each sampled at no more than ``PLOT_POINTS`` steps."""
        from budgetlr.plotting import pyplot, save

        steps = np.unique(np.linspace(0, self.total_steps, min(self.total_steps + 1, PLOT_POINTS)).round())
        figure, axes = pyplot().subplots(figsize=(8, 4.5), layout="constrained")
        for name, curve in zip(self.names, self.curves, strict=True):
            axes.plot(steps * self.per_step, curve(steps), label=name, linewidth=1.6)
        axes.set_xlabel(
            "optimizer step" if self.unit == "steps" else f"{self.unit} ({self.per_step:g} a step)"
        )
        axes.set_ylabel("learning rate" if peak != 1.0 else "multiplier of the peak LR")
        axes.set_title(f"budgetlr schedules, budget {budget}")
        axes.grid(alpha=0.3)
        axes.legend()
        save(figure, path, dpi=120)


def closed_form(curve: BoundSchedule, peak: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda steps: np.asarray(curve.lr(steps, peak), dtype=np.float64)


def recorded(lrs: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda steps: lrs[steps.astype(np.int64)]


COMMANDS = {
    "list": list_families,
    "show": show,
    "bench": bench,
    "report": report,
    "export": export,
    "refine": refine,
    "suggest-phi": suggest_phi,
    "pbt": pbt,
    "wsd-s": wsd_s,
    "recommend": recommend,
    "lr-transfer": lr_transfer,
    "results": results,
    "plan": plan.run_command,
}
