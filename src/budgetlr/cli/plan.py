"""``budgetlr plan``: fit a loss-curve law to your runs, and predict any schedule's curve from it
(``design`` and ``lr``, the schedule and the peak LR for a budget, are in :mod:`budgetlr.cli.plan_design`).

budgetlr plan fit cosine.csv constant.csv --law mpl --out fit.json --plot fit.png
budgetlr plan predict fit.json --schedule "cosine(warmup_steps=2160, floor=0.1)" --steps 72000 --peak 3e-4
budgetlr plan design fit.json --steps 24000 --peak 3e-4 --warmup-steps 2160 --plot candidates.png
budgetlr plan lr lr_0.1.csv lr_0.3.csv lr_1.csv --schedule cosine --steps 4000 --plot lr.png
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from budgetlr._extras import Extra
from budgetlr.cli.arguments import (
    add_command,
    add_quiet,
    at_least,
    checked,
    existing,
    output_file,
    plot_file,
    positive,
)
from budgetlr.cli.plan_design import (
    add_budget,
    add_design,
    add_lr,
    add_runs,
    distinct,
    print_answer,
    steps_of,
)
from budgetlr.errors import InvalidInput
from budgetlr.plotting import panels, save

LAW_NAMES = ("mpl", "tissue", "reduced", "power")
PLAN: tuple[Extra, ...] = ("plan",)


def add_commands(commands: Any) -> None:
    """The ``plan`` command group, under the CLI's subcommands."""
    plan = commands.add_parser(
        "plan", help="fit a loss-curve law to your runs and predict any schedule's curve"
    )
    actions = plan.add_subparsers(dest="plan_command", required=True, parser_class=type(plan))
    fit = add_command(actions, "fit", fit_command, PLAN, help="fit a law to runs and write FIT.json")
    add_runs(fit, "*")
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
    add_quiet(fit)
    predict = add_command(
        actions, "predict", predict_command, PLAN, help="predict a schedule's loss curve from FIT.json"
    )
    predict.add_argument("fit", type=checked(existing), metavar="FIT.json")
    predict.add_argument("--schedule", required=True, help='a budgetlr spec, e.g. "cosine(warmup=0.05)"')
    add_budget(predict)
    predict.add_argument("--peak", type=checked(positive), required=True, help="the peak LR")
    predict.add_argument("--json", action="store_true", help="print the curve as JSON")
    predict.add_argument("--plot", type=checked(plot_file), help="the predicted curve with its interval")
    add_design(actions, PLAN)
    add_lr(actions, PLAN)


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
    distinct(runs)
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
    total_steps = steps_of(args)
    prediction = predict_schedule(fitted, args.schedule, total_steps, args.peak)
    low, high = prediction.low[-1], prediction.high[-1]
    text = [
        f"{args.schedule} over {total_steps} steps at peak {args.peak:g}: final loss "
        f"{prediction.final_loss:.5f} (95% interval {low:.5f} .. {high:.5f}, law {fitted.law})",
        *(f"extrapolation: {reason}" for reason in prediction.extrapolation),
    ]
    print_answer(
        args,
        {"law": fitted.law, "schedule": args.schedule, "total_steps": total_steps, "peak": args.peak}
        | prediction.to_json(),
        "\n".join(text),
        prediction.extrapolation,
        lambda path: plot_prediction(
            prediction, f"{args.schedule}\nT = {total_steps}, peak {args.peak:g}", path
        ),
    )


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
