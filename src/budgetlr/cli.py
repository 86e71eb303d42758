"""``budgetlr``: the command line. Bad input prints one line on stderr and exits with code 2."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from budgetlr.bench.suites import SUITES
from budgetlr.integrations import MissingExtra
from budgetlr.schedules import FAMILIES, BoundSchedule, keys_of, schedule, split_specs

if TYPE_CHECKING:
    from budgetlr.bench.analysis import Cell

TABLE_ROWS = 25
DEFAULT_OUT = Path("budgetlr-results")


class UsageError(Exception):
    """Bad command-line input: reported in one line, exit code 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> Parser:
    parser = Parser(prog="budgetlr", description="Learning-rate schedules for budgeted training.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    commands.add_parser("list", help="list schedule families, their keys, defaults and papers")
    show = commands.add_parser("show", help="print (and plot) the LR curve of one or more specs")
    show.add_argument("specs", nargs="+", metavar="SPEC", help='e.g. "uba(phi=0.5, warmup=0.05)"')
    show.add_argument("--steps", type=int, required=True, help="the budget T in optimizer steps")
    show.add_argument("--peak", type=float, default=1.0, help="peak LR (default 1: multipliers)")
    show.add_argument("--csv", type=Path, help="write the LR at every step 0..T to this CSV file")
    show.add_argument("--plot", type=Path, help="draw all curves on one figure into this PNG file")

    bench = commands.add_parser("bench", help="run a budgeted-training sweep and write its report")
    bench.add_argument(
        "--suite", choices=sorted(SUITES), default="quick", help="defaults for every option below"
    )
    bench.add_argument(
        "--workload", help="comma-separated workload specs, e.g. mnist1d-cnn or pkg.mod:MyWorkload"
    )
    bench.add_argument("--schedules", help='comma-separated schedule specs, e.g. "cosine,uba(phi=0.5)"')
    bench.add_argument("--budgets", help="comma-separated fractions of the full budget in (0, 1]")
    bench.add_argument("--lrs", help="comma-separated peak LRs (default: each workload's own grid)")
    bench.add_argument("--seeds", help="comma-separated seeds")
    add_out(bench)
    bench.add_argument("--executor", choices=["local", "ray"], default="local")
    bench.add_argument("--workers", type=int, help="local worker processes (default: one per core)")
    bench.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    bench.add_argument(
        "--tuner",
        choices=["grid", "optuna"],
        default="grid",
        help="grid: every LR of --lrs; optuna: a TPE study",
    )
    bench.add_argument(
        "--trials", type=int, help="Optuna trials per workload, schedule and budget (default 12)"
    )
    bench.add_argument("--no-report", action="store_true", help="only run the sweep")
    bench.add_argument("--quiet", action="store_true", help="no progress bar")

    report = commands.add_parser("report", help="write report.md, report.html and plots from the database")
    add_out(report)

    export = commands.add_parser("export", help="write every stored trial to a CSV file")
    add_out(export)
    export.add_argument("file", type=Path, metavar="FILE.csv")

    refine = commands.add_parser(
        "refine", help="refine a stored trial's gradient norms into a schedule file (arXiv 2310.07831)"
    )
    add_out(refine)
    refine.add_argument("--trial", required=True, help="the trial's key, or a unique prefix of it")
    refine.add_argument("--smoothing", type=float, default=0.1, help="median-filter width, fraction of T")

    suggest = commands.add_parser(
        "suggest-phi", help="measure a workload's curvature and choose UBA's phi for a budget"
    )
    suggest.add_argument("--workload", required=True, help="a workload spec, e.g. digits-cnn")
    suggest.add_argument("--budget", type=float, required=True, help="fraction of the full budget in (0, 1]")
    suggest.add_argument("--seed", type=int, default=0, help="seed of the model's initialisation")

    pbt = commands.add_parser(
        "pbt", help="population based training of the LR on Ray Tune; replays the result"
    )
    pbt.add_argument("--workload", required=True, help="a workload spec, e.g. quadratic")
    pbt.add_argument("--budget", type=float, required=True, help="fraction of the full budget in (0, 1]")
    pbt.add_argument("--population", type=int, default=8, help="members (default 8)")
    pbt.add_argument("--interval", type=int, help="steps between exploit/explore (default: T/10)")
    pbt.add_argument("--base-lr", type=float, help="LR that lr_mult multiplies (default: middle of the grid)")
    pbt.add_argument("--seed", type=int, default=0, help="seed of the population's runs")
    pbt.add_argument("--replay-seeds", default="0,1,2", help="seeds of the replays from scratch")
    add_out(pbt)
    pbt.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    pbt.add_argument("--quiet", action="store_true", help="no progress bar")

    branches = commands.add_parser(
        "wsd-s", help="several budgets from one run: WSD branches and WSD-S against separate runs"
    )
    branches.add_argument("--workload", required=True, help="a workload spec, e.g. mnist1d-cnn")
    branches.add_argument("--budgets", default="0.1,0.25,0.5,1.0", help="fractions of the full budget")
    branches.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    branches.add_argument("--lr", type=float, help="peak LR (default: wsd's tuned LR at the largest budget "
                          "in --out's database, else the middle of the workload's grid)")  # fmt: skip
    add_out(branches)
    branches.add_argument("--quiet", action="store_true", help="no progress bar")

    recommend = commands.add_parser(
        "recommend", help="which schedule to use at a budget, from stored results"
    )
    recommend.add_argument("--budget-fraction", type=float, required=True, help="fraction of a full budget")
    recommend.add_argument("--workload", help="only this workload's results (default: all)")
    add_out(recommend)

    results = commands.add_parser(
        "results", help="write the study's results page (docs/results.md) from a database"
    )
    add_out(results)
    results.add_argument("--write", type=Path, default=Path("docs/results.md"), help="the page to write")
    results.add_argument("--gpu", type=Path, help="results folder of benchmarks/gpu_study.sh, if it ran")
    return parser


def add_out(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="results folder (default budgetlr-results)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except MissingExtra as error:
        print(f"budgetlr: error: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        print(
            f"budgetlr: error: {args.command} needs the benchmark extra (missing {error.name}): "
            "pip install 'budgetlr[bench]'",
            file=sys.stderr,
        )
        return 2
    except (UsageError, ValueError, OSError) as error:
        print(f"budgetlr: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "budgetlr: interrupted; finished trials are stored: rerun the same command to resume",
            file=sys.stderr,
        )
        return 130
    return 0


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
    if not np.isfinite(args.peak) or args.peak <= 0:
        raise UsageError(f"--peak must be a positive number, got {args.peak}")
    for option, path in (("--csv", args.csv), ("--plot", args.plot)):
        if path is not None and not path.parent.is_dir():
            raise UsageError(f"cannot write {option} {path}: folder {path.parent} does not exist")
    curves = [schedule(spec, args.steps) for spec in args.specs]
    lrs = [c.curve(args.peak) for c in curves]
    print(format_table(curves, lrs))
    if args.csv:
        write_csv(args.csv, curves, lrs)
        print(f"wrote {args.csv}")
    if args.plot:
        plot(args.plot, curves, lrs, args.peak)
        print(f"wrote {args.plot}")


def bench(args: argparse.Namespace) -> None:
    from budgetlr.bench.report import write_report
    from budgetlr.bench.sweep import make_plan, parse_list, run_sweep

    suite = SUITES[args.suite]
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be >= 1, got {args.workers}")
    if args.address and args.executor != "ray":
        raise UsageError("--address goes with --executor ray")
    if args.trials is not None and args.tuner != "optuna":
        raise UsageError("--trials goes with --tuner optuna")
    plan = make_plan(
        workloads=split_specs(args.workload) if args.workload else suite.workloads,
        schedules=split_specs(args.schedules) if args.schedules else suite.schedules,
        budgets=parse_list(args.budgets, float, "budget") if args.budgets else suite.budgets,
        seeds=parse_list(args.seeds, int, "seed") if args.seeds else suite.seeds,
        lrs=parse_list(args.lrs, float, "peak LR") if args.lrs else None,
        grids=suite.lrs,
    )
    if args.tuner == "optuna":
        from budgetlr.bench.tune import tune_with_optuna

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
            plan, args.out, args.executor, args.workers, args.address, progress=not args.quiet
        )
        print(
            f"{summary.planned} trials planned: {summary.already_stored} already stored, {summary.ran} run now "
            f"({summary.diverged} diverged); database {args.out / 'results.db'}"
        )
    if not args.no_report:
        print(f"wrote {write_report(args.out)} (and report.html, plots/)")


def report(args: argparse.Namespace) -> None:
    from budgetlr.bench.report import write_report

    print(f"wrote {write_report(args.out)} (and report.html, plots/)")


def export(args: argparse.Namespace) -> None:
    from budgetlr.bench.store import Store

    if not args.file.parent.is_dir():
        raise UsageError(f"cannot write {args.file}: folder {args.file.parent} does not exist")
    with Store.existing(args.out) as store:
        count = store.export_csv(args.file)
    print(f"wrote {count} trials to {args.file}")


def refine(args: argparse.Namespace) -> None:
    from budgetlr.adaptive.refine import refine_trial

    if not 0.0 <= args.smoothing < 1.0:
        raise UsageError(f"--smoothing must lie in [0, 1), got {args.smoothing}")
    run = refine_trial(args.out, args.trial, args.smoothing)
    print(run.summary())
    print(f"wrote {run.path} and {run.path.with_suffix('.png')}; replay it with the schedule spec:")
    print(run.spec)


def suggest_phi(args: argparse.Namespace) -> None:
    from budgetlr.adaptive.phi import estimate_for_workload, suggest_phi
    from budgetlr.bench.runner import budget_steps
    from budgetlr.bench.workloads import resolve_workload

    if not 0.0 < args.budget <= 1.0:
        raise UsageError(f"--budget must be a fraction of the full budget in (0, 1], got {args.budget}")
    workload = resolve_workload(args.workload)
    steps = budget_steps(workload.full_budget, args.budget)
    suggestion = suggest_phi(estimate_for_workload(workload, seed=args.seed), steps)
    print(f"{workload} at budget {args.budget} ({steps} steps): {suggestion.explain()}")
    print(f"uba(phi={suggestion.phi:.3g})")


def pbt(args: argparse.Namespace) -> None:
    from budgetlr.adaptive.pbt import PBTSettings, replay_configs, run_pbt
    from budgetlr.bench.analysis import cells
    from budgetlr.bench.store import Store
    from budgetlr.bench.sweep import parse_list, run_configs

    seeds = parse_list(args.replay_seeds, int, "seed")
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
    run_configs(replay_configs(run, seeds), args.out, progress=not args.quiet)
    with Store(args.out) as store:
        trials = [
            t
            for t in store.trials()
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
    from budgetlr.bench.branching import measure, save_rows
    from budgetlr.bench.sweep import parse_list, progress_bar
    from budgetlr.bench.workloads import resolve_workload

    budgets = parse_list(args.budgets, float, "budget")
    seeds = parse_list(args.seeds, int, "seed")
    if any(not 0 < b <= 1 for b in budgets) or len(set(budgets)) < 2:
        raise UsageError(f"--budgets needs two or more fractions in (0, 1], got {args.budgets}")
    workload = resolve_workload(args.workload)
    lr = args.lr if args.lr is not None else default_wsd_lr(args.out, str(workload), max(budgets))
    if lr is None:
        lr = workload.lrs[len(workload.lrs) // 2]
    if not (np.isfinite(lr) and lr > 0):
        raise UsageError(f"--lr must be a positive number, got {lr}")
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
    from budgetlr.bench.analysis import cells
    from budgetlr.bench.store import DB_NAME, Store

    if not (out / DB_NAME).is_file():
        return None
    with Store(out) as store:
        mine = [
            t
            for t in store.trials()
            if t.workload == workload and t.budget == budget and t.schedule.startswith("wsd")
        ]
    tuned = [c.tuned_lr for c in cells(mine) if c.tuned_lr is not None]
    return tuned[0] if tuned else None


def recommend(args: argparse.Namespace) -> None:
    from budgetlr.bench.analysis import cells
    from budgetlr.bench.store import Store
    from budgetlr.bench.study import recommend

    with Store.existing(args.out) as store:
        trials = store.trials()
    print(recommend(cells(trials), args.budget_fraction, args.workload).explain())


def results(args: argparse.Namespace) -> None:
    from budgetlr.bench.results import write_results

    if not args.write.parent.is_dir():
        raise UsageError(f"cannot write {args.write}: folder {args.write.parent} does not exist")
    print(f"wrote {write_results(args.out, args.write, args.gpu)} (and its plots)")


def table_steps(total_steps: int, warmups: list[int]) -> list[int]:
    spaced = np.linspace(0, total_steps, TABLE_ROWS).round().astype(int).tolist()
    return sorted({*spaced, *warmups, total_steps - 1, total_steps} - {-1})


def format_table(curves: list[BoundSchedule], lrs: list[np.ndarray]) -> str:
    total_steps = curves[0].total_steps
    steps = table_steps(total_steps, [c.spec.warmup_end(total_steps) for c in curves])
    names = [str(c) for c in curves]
    widths = [max(len(n), 12) for n in names]
    header = "  ".join(["step".rjust(8), *(n.rjust(w) for n, w in zip(names, widths, strict=True))])
    rows = [header]
    for t in steps:
        cells = (f"{lr[t]:.6g}".rjust(w) for lr, w in zip(lrs, widths, strict=True))
        rows.append("  ".join([str(t).rjust(8), *cells]))
    return "\n".join(rows)


def write_csv(path: Path, curves: list[BoundSchedule], lrs: list[np.ndarray]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["step", *(str(c) for c in curves)])
        for t, row in enumerate(zip(*lrs, strict=True)):
            writer.writerow([t, *(repr(float(v)) for v in row)])


def plot(path: Path, curves: list[BoundSchedule], lrs: list[np.ndarray], peak: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5), layout="constrained")
    steps = np.arange(curves[0].total_steps + 1)
    for curve, lr in zip(curves, lrs, strict=True):
        axes.plot(steps, lr, label=str(curve), linewidth=1.6)
    axes.set_xlabel("optimizer step")
    axes.set_ylabel("learning rate" if peak != 1.0 else "multiplier of the peak LR")
    axes.set_title(f"budgetlr schedules, total_steps={curves[0].total_steps}")
    axes.grid(alpha=0.3)
    axes.legend()
    try:
        figure.savefig(path, dpi=120)
    finally:
        plt.close(figure)


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
    "results": results,
}
