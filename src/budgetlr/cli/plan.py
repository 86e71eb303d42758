"""``budgetlr plan``: fit a loss-curve law to your runs, and predict any schedule's curve from it.

budgetlr plan fit cosine.csv constant.csv --law mpl --out fit.json --plot fit.png
budgetlr plan predict fit.json --schedule "cosine(warmup_steps=2160, floor=0.1)" --steps 72000 --peak 3e-4
budgetlr plan design fit.json --steps 24000 --peak 3e-4 --warmup-steps 2160 --plot candidates.png
budgetlr plan lr lr_0.1.csv lr_0.3.csv lr_1.csv --schedule cosine --steps 4000 --plot lr.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from budgetlr._extras import Extra
from budgetlr.cli.arguments import add_command, at_least, checked, output_file, plot_file, positive
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, save

LAW_NAMES = ("mpl", "tissue", "reduced", "power")
FAMILY_NAMES = ("wsd", "linear", "polynomial", "cosine", "uba", "rex", "power")
PLAN: tuple[Extra, ...] = ("plan",)


def add_commands(commands: Any) -> None:
    """The ``plan`` command group, under the CLI's subcommands."""
    plan = commands.add_parser(
        "plan", help="fit a loss-curve law to your runs and predict any schedule's curve"
    )
    actions = plan.add_subparsers(dest="plan_command", required=True, parser_class=type(plan))
    fit = add_command(actions, "fit", fit_command, PLAN, help="fit a law to runs and write FIT.json")
    fit.add_argument(
        "runs",
        nargs="*",
        type=checked(existing),
        metavar="RUN",
        help="a CSV of step,lr,loss (optional spread)",
    )
    fit.add_argument(
        "--from-spec",
        nargs=4,
        action="append",
        default=[],
        metavar=("LOSSES", "SPEC", "STEPS", "PEAK"),
        help="a run whose LR is a budgetlr spec over STEPS at PEAK, with a CSV of step,loss",
    )
    fit.add_argument("--law", choices=LAW_NAMES, default="mpl", help="the law to fit (default mpl)")
    fit.add_argument("--out", type=checked(output_file), required=True, help="where to write the fit (JSON)")
    fit.add_argument("--plot", type=checked(plot_file), help="observed against fitted, one panel per run")
    fit.add_argument("--seed", type=checked(at_least(0)), default=0, help="seed of the starts and bootstrap")
    fit.add_argument(
        "--replicates",
        type=checked(at_least(0)),
        help="bootstrap refits for the intervals (default: budgetlr.plan.fitting.REPLICATES, 10)",
    )
    fit.add_argument("--quiet", action="store_true", help="no progress bar")
    predict = add_command(
        actions, "predict", predict_command, PLAN, help="predict a schedule's loss curve from FIT.json"
    )
    predict.add_argument("fit", type=checked(existing), metavar="FIT.json")
    predict.add_argument("--schedule", required=True, help='a budgetlr spec, e.g. "cosine(warmup=0.05)"')
    predict.add_argument("--steps", type=checked(at_least(1)), required=True, help="the budget T in steps")
    predict.add_argument("--peak", type=checked(positive), required=True, help="the peak LR")
    predict.add_argument("--json", action="store_true", help="print the curve as JSON")
    predict.add_argument("--plot", type=checked(plot_file), help="the predicted curve with its interval")
    add_design(actions)
    add_lr(actions)


def add_budget(parser: Any) -> None:
    """``--steps T`` or ``--budget B`` (steps, tokens, samples or time) with the rate that translates it."""
    budget = parser.add_mutually_exclusive_group(required=True)
    budget.add_argument("--steps", type=checked(at_least(1)), help="the budget T in optimizer steps")
    budget.add_argument(
        "--budget",
        type=checked(budget_value),
        help="the budget in steps, tokens, samples or time: '2e9 tokens', '3h'",
    )
    for unit in ("tokens", "samples", "seconds"):
        parser.add_argument(
            f"--{unit}-per-step",
            type=checked(positive),
            help=f"{unit} one optimizer step consumes, to translate a --budget in {unit} into steps",
        )


def budget_value(text: str) -> Any:
    from budgetlr.schedules.budget import Budget

    return Budget.parse(int(text) if text.strip().isdigit() else text)


def steps_of(args: argparse.Namespace) -> int:
    from budgetlr.plan.designing import budget_steps

    if args.steps is not None:
        return int(args.steps)
    return budget_steps(
        args.budget,
        tokens_per_step=args.tokens_per_step,
        samples_per_step=args.samples_per_step,
        seconds_per_step=args.seconds_per_step,
    )


def add_design(actions: Any) -> None:
    design = add_command(
        actions,
        "design",
        design_command,
        PLAN,
        help="the schedule with the lowest predicted final loss for a budget",
    )
    design.add_argument("fit", type=checked(existing), metavar="FIT.json")
    add_budget(design)
    design.add_argument("--peak", type=checked(positive), required=True, help="the peak LR")
    design.add_argument(
        "--families",
        nargs="+",
        choices=FAMILY_NAMES,
        default=list(FAMILY_NAMES),
        metavar="FAMILY",
        help=f"the families to search (default all: {', '.join(FAMILY_NAMES)})",
    )
    design.add_argument(
        "--warmup-steps",
        type=checked(at_least(0)),
        default=0,
        help="every candidate's warmup, as your runs had",
    )
    design.add_argument(
        "--baseline",
        action="append",
        metavar="SPEC",
        help="a spec to report the gain over (repeatable; default cosine and linear, with the warmup)",
    )
    design.add_argument("--json", action="store_true", help="print the design as JSON")
    design.add_argument("--plot", type=checked(plot_file), help="the candidates' predicted curves")
    design.add_argument("--quiet", action="store_true", help="no progress bar")


def design_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import load_fit
    from budgetlr.plan.designing import BASELINES, design

    fitted = load_fit(args.fit)
    total_steps = steps_of(args)
    power = None
    if args.tokens_per_step and args.samples_per_step:
        power = f"tokens_per_step={args.tokens_per_step:g}, batch={args.samples_per_step:g}"
    result = design(
        fitted,
        total_steps,
        args.peak,
        args.families,
        warmup_steps=args.warmup_steps,
        power=power,
        baselines=args.baseline or BASELINES,
        progress=not args.quiet,
    )
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(format_design(result))
    for reason in result.extrapolation:
        print(f"budgetlr: extrapolation: {reason}", file=sys.stderr)
    if args.plot:
        plot_design(fitted, result, args.plot)
        if not args.json:
            print(f"wrote {args.plot}")


def format_design(result: Any) -> str:
    best = result.best
    lines = [
        f"{len(result.candidates)} candidates over {result.total_steps} steps at peak {result.peak:g}, "
        f"law {result.law}; intervals are the fit's 95% bootstrap intervals",
        f"best: {best.spec}: final loss {best.final_loss:.5f} ({best.low:.5f} .. {best.high:.5f})",
    ]
    for gain in result.gains:
        verdict = "exceeds the interval" if gain.exceeds else "within the interval: not a predicted gain"
        lines.append(
            f"  gain over {gain.baseline}: {gain.gain:+.5f} ({100 * gain.relative:+.2f}%), "
            f"interval {gain.low:+.5f} .. {gain.high:+.5f}: {verdict}"
        )
    lines.append("best of each family:")
    seen = set()
    for candidate in result.candidates:
        if candidate.family not in seen:
            seen.add(candidate.family)
            lines.append(f"  {candidate.final_loss:.5f}  {candidate.spec}")
    lines += [f"extrapolation: {reason}" for reason in result.extrapolation]
    lines += [f"not searched: {reason}" for reason in result.skipped]
    return "\n".join(lines)


def plot_design(fitted: Any, result: Any, path: Path) -> None:
    from budgetlr.plan import predict_schedule

    figure, axes = panels(1, 4.0)
    axis = axes[0]
    shown: dict[str, str] = {}
    for candidate in result.candidates:
        shown.setdefault(candidate.family, candidate.spec)
    specs = [*shown.values(), *(gain.baseline for gain in result.gains)]
    lows, highs = [], []
    for index, spec in enumerate(dict.fromkeys(specs)):
        prediction = predict_schedule(fitted, spec, result.total_steps, result.peak)
        style = "--" if index >= len(shown) else "-"
        width = 2.0 if spec == result.best.spec else 1.0
        axis.plot(prediction.steps, prediction.loss, style, linewidth=width, label=spec)
        lows.append(float(prediction.loss.min()))
        highs.append(float(prediction.loss[prediction.steps.size // 3]))
    # The curves differ in the last part of training: the view starts a third of the way in.
    axis.set_ylim(0.998 * min(lows), max(highs))
    axis.set(xlabel="step", ylabel="predicted loss")
    axis.set_title(f"best of each family (dashed: baselines), law {result.law}", fontsize=8)
    axis.legend(fontsize=6)
    save(figure, path)


def existing(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise InvalidInput(f"{text} is not a file")
    return path


def fit_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import fit, read_run, run_from_spec, save_fit

    runs = [read_run(path) for path in args.runs]
    for losses, spec, steps, peak in args.from_spec:
        try:
            runs.append(run_from_spec(spec, at_least(1)(steps), positive(peak), existing(losses)))
        except InvalidInput as error:
            raise InvalidInput(f"--from-spec {losses} {spec} {steps} {peak}: {error}") from None
    if not runs:
        raise InvalidInput("plan fit needs at least one RUN (a CSV of step,lr,loss) or --from-spec")
    if len({run.name for run in runs}) < len(runs):
        raise InvalidInput("two runs share a name: give each run's CSV its own file name")
    chosen = {} if args.replicates is None else {"replicates": args.replicates}
    result = fit(runs, args.law, seed=args.seed, progress=not args.quiet, **chosen)
    save_fit(result, args.out)
    print(format_fit(result))
    print(f"wrote {args.out}")
    if args.plot:
        plot_fit(result, runs, args.plot)
        print(f"wrote {args.plot}")


def format_fit(result: Any) -> str:
    lines = [
        f"{result.law} fitted to {len(result.runs)} runs in {result.seconds:.1f} s (objective {result.objective:.6g})"
    ]
    for name, value in result.parameters.items():
        interval = ""
        if result.samples:
            low, high = result.interval(name)
            interval = f"  95% bootstrap interval {low:.6g} .. {high:.6g} ({len(result.samples)} refits)"
        lines.append(f"  {name:<6} {value:.6g}{interval}")
    lines += [f"  run {run.name}: {run.points} points, PredE {100 * run.pred_e:.3f}%" for run in result.runs]
    return "\n".join(lines)


def predict_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import load_fit, predict_schedule

    fitted = load_fit(args.fit)
    prediction = predict_schedule(fitted, args.schedule, args.steps, args.peak)
    if args.json:
        print(
            json.dumps(
                {"law": fitted.law, "schedule": args.schedule, "total_steps": args.steps, "peak": args.peak}
                | prediction.to_json()
            )
        )
    else:
        low, high = prediction.low[-1], prediction.high[-1]
        print(
            f"{args.schedule} over {args.steps} steps at peak {args.peak:g}: final loss "
            f"{prediction.final_loss:.5f} (95% interval {low:.5f} .. {high:.5f}, law {fitted.law})"
        )
        for reason in prediction.extrapolation:
            print(f"extrapolation: {reason}")
    if prediction.extrapolation and args.json:
        print(f"budgetlr: extrapolation: {'; '.join(prediction.extrapolation)}", file=sys.stderr)
    if args.plot:
        plot_prediction(prediction, f"{args.schedule}\nT = {args.steps}, peak {args.peak:g}", args.plot)
        if not args.json:
            print(f"wrote {args.plot}")


def plot_fit(result: Any, runs: list, path: Path) -> None:
    from budgetlr.plan import law_named
    from budgetlr.plan.laws import features

    figure, axes = panels(len(runs), 3.2)
    for axis, run, summary in zip(axes, runs, result.runs, strict=True):
        fitted, _ = law_named(result.law).predict(result.theta, features(run.lrs, run.steps))
        axis.plot(run.steps, run.losses, ".", markersize=3, color="0.4", label="observed")
        axis.plot(run.steps, fitted, "-", color="C3", label=f"{result.law} fit")
        axis.set_title(f"{run.name}: PredE {100 * summary.pred_e:.2f}%", fontsize=9)
        axis.set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].legend(fontsize=8)
    save(figure, path)


def plot_prediction(prediction: Any, title: str, path: Path) -> None:
    figure, axes = panels(1, 3.5)
    axis = axes[0]
    axis.fill_between(
        prediction.steps, prediction.low, prediction.high, alpha=0.3, color="C0", label="95% interval"
    )
    axis.plot(prediction.steps, prediction.loss, color="C0", label="predicted loss")
    # The first steps' loss is far above the rest: the view starts a tenth of the way in.
    axis.set_ylim(0.995 * float(prediction.low.min()), float(prediction.high[prediction.steps.size // 10]))
    axis.set(xlabel="step", ylabel="loss")
    axis.set_title(title, fontsize=8)
    axis.legend(fontsize=8)
    save(figure, path)


def add_lr(actions: Any) -> None:
    lr = add_command(
        actions, "lr", lr_command, PLAN, help="the peak LR for a schedule and budget, from runs at 2+ peaks"
    )
    lr.add_argument(
        "runs",
        nargs="+",
        type=checked(existing),
        metavar="RUN",
        help="a CSV of step,lr,loss (optional spread)",
    )
    lr.add_argument("--schedule", required=True, help="the schedule to tune the peak LR for, a budgetlr spec")
    add_budget(lr)
    lr.add_argument("--seed", type=checked(at_least(0)), default=0, help="seed of the bootstrap")
    lr.add_argument("--json", action="store_true", help="print the answer as JSON")
    lr.add_argument("--plot", type=checked(plot_file), help="the runs' final losses against the peak LR")


def lr_command(args: argparse.Namespace) -> None:
    from budgetlr.plan import read_run
    from budgetlr.plan.peaks import peak_lr

    runs = [read_run(path) for path in args.runs]
    if len({run.name for run in runs}) < len(runs):
        raise InvalidInput("two runs share a name: give each run's CSV its own file name")
    result = peak_lr(runs, args.schedule, steps_of(args), seed=args.seed)
    if args.json:
        print(json.dumps(result.to_json()))
    else:
        print(format_peak(result))
    for reason in result.extrapolation:
        print(f"budgetlr: extrapolation: {reason}", file=sys.stderr)
    if args.plot:
        plot_peak(runs, result, args.plot)
        if not args.json:
            print(f"wrote {args.plot}")


def format_peak(result: Any) -> str:
    widened = (
        f"the bootstrap's widened x{result.widened:.2f} by the law's largest held-out error"
        if result.widened > 1
        else "the bootstrap's alone: no horizon could be held out"
    )
    lines = [
        f"peak LR for {result.schedule} over {result.total_steps} steps: {result.peak:.4g} "
        f"(95% interval {result.low:.4g} .. {result.high:.4g}, {widened}), law {result.chosen}",
        "  law    peak LR     bootstrap interval    held-out error |log2(predicted / observed tuned LR)|",
    ]
    for law in result.laws:
        if law.peak is None:
            lines.append(f"  {law.law:<6} not fitted: {law.reason}")
            continue
        error = (
            f"median {law.held_out_error:.2f} over {len(law.held_out)} horizons"
            if law.held_out
            else "no horizon could be held out"
        )
        lines.append(f"  {law.law:<6} {law.peak:<11.4g} {law.low:.4g} .. {law.high:<10.4g} {error}")
    lines += [f"extrapolation: {reason}" for reason in result.extrapolation]
    return "\n".join(lines)


def plot_peak(runs: list, result: Any, path: Path) -> None:
    figure, axes = panels(1, 3.5)
    axis = axes[0]
    for horizon in sorted({run.total_steps for run in runs}):
        same = sorted((run for run in runs if run.total_steps == horizon), key=lambda run: run.peak)
        axis.plot(
            [run.peak for run in same], [run.losses[-1] for run in same], "o-", label=f"runs, {horizon} steps"
        )
    axis.axvline(result.peak, color="C3", label=f"chosen for {result.total_steps} steps ({result.chosen})")
    axis.axvspan(result.low, result.high, color="C3", alpha=0.15, label="interval")
    axis.set_xscale("log")
    axis.set(xlabel="peak LR", ylabel="final loss")
    axis.set_title(f"{result.schedule}: observed final losses, chosen peak LR", fontsize=8)
    axis.legend(fontsize=7)
    save(figure, path)
