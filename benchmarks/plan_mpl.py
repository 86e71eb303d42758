"""Reproduce the Multi-Power Law authors' table: fit each law on their training runs, predict their
test runs, and write the table of docs/plan.md.

    .venv/bin/python benchmarks/plan_mpl.py --write docs/plan.md   # all three sizes, every law
    .venv/bin/python benchmarks/plan_mpl.py --sizes 400 --laws mpl

Each metric is computed per test curve and averaged over the six, as the authors compute it.
The fits run on one core (``OMP_NUM_THREADS=1``, set before numpy loads).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import csv
import datetime
import platform
import time
from pathlib import Path

import numpy as np

from budgetlr.plan import LAWS, Run, fit, predict_lrs
from budgetlr.plan.fitting import make_problem
from budgetlr.plan.laws import features

DATA = Path(__file__).parent / "data" / "mpl"
SIZES = ("25", "100", "400")
TRAIN = ("cosine_24000", "constant_24000", "wsdcon_9")
TEST = ("constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_18")
WARMUP, PEAK, END, SPLIT = 2160, 3e-4, 3e-5, 8000
#: The authors' README, per size: R^2, MAE, RMSE, PredE, WorstE.
AUTHORS = {
    "25": (0.9988, 0.00376, 0.00465, 0.00110, 0.00409),
    "100": (0.9983, 0.00435, 0.00592, 0.00142, 0.00583),
    "400": (0.9978, 0.00484, 0.00730, 0.00168, 0.00995),
}
METRICS = ("R^2", "MAE", "RMSE", "PredE", "WorstE")
#: The authors' fitted parameters (L0, A, alpha, B, C, beta, gamma), from src/config.py of their
#: repository (MIT): evaluating them here checks that budgetlr computes the metrics as they do.
AUTHORS_PARAMETERS = {
    "25": [3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257],
    "100": [2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644],
    "400": [2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493, 0.63472457],
}
BEGIN_MARK, END_MARK = "<!-- benchmarks/plan_mpl.py: begin -->", "<!-- benchmarks/plan_mpl.py: end -->"


def authors_lrs(name: str) -> np.ndarray:
    """The LR of every step of the authors' run ``name``, as their code defines it."""
    kind, *numbers = name.split("_")
    total = 16000 if kind == "wsdcon" else int(numbers[-1])
    t = np.arange(WARMUP, total)
    if kind == "constant":
        after = np.full(t.size, PEAK)
    elif kind == "cosine":
        after = END + 0.5 * (PEAK - END) * (1 + np.cos(np.pi * (t - WARMUP) / (total - WARMUP)))
    elif kind == "wsdcon":
        after = np.where(t < SPLIT, PEAK, int(numbers[0]) * 1e-5)
    else:
        decay = int(numbers[0])
        progress = (t - decay) / (total - decay)
        cooled = PEAK ** (1 - progress) * END**progress if kind == "wsd" else PEAK + (END - PEAK) * progress
        after = np.where(t < decay, PEAK, cooled)
    return np.concatenate([np.linspace(0, PEAK, WARMUP), after])


def authors_run(size: str, name: str) -> Run:
    """The run ``name`` of model size ``size``, without the row past its last LR (a 24k run's 24000)."""
    with (DATA / size / f"{name}.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    lrs = authors_lrs(name)
    steps = np.array([int(row["step"]) for row in rows])
    losses = np.array([float(row["loss"]) for row in rows])
    keep = steps < lrs.size
    return Run(name, lrs, steps[keep], losses[keep])


def curve_metrics(observed: np.ndarray, predicted: np.ndarray) -> tuple[float, ...]:
    """R^2, MAE, RMSE, PredE and WorstE of one curve."""
    error = observed - predicted
    ratio = np.abs(error) / observed
    r2 = 1 - np.sum(error**2) / np.sum((observed - observed.mean()) ** 2)
    return (
        float(r2),
        float(np.abs(error).mean()),
        float(np.sqrt(np.mean(error**2))),
        float(ratio.mean()),
        float(ratio.max()),
    )


def evaluate(size: str, law: str, replicates: int) -> dict:
    result = fit([authors_run(size, name) for name in TRAIN], law=law, replicates=replicates)
    covered = 0
    for name in TEST:
        run = authors_run(size, name)
        final = predict_lrs(result, run.lrs, run.steps[-1:])
        covered += int(final.low[0] <= run.losses[-1] <= final.high[0])
    return scored(size, law, result.theta) | {"seconds": result.seconds, "covered": covered}


def scored(size: str, law: str, theta: np.ndarray) -> dict:
    """The test metrics of ``theta``: per test curve, and averaged over the six."""
    per_curve = {}
    for name in TEST:
        run = authors_run(size, name)
        predicted, _ = LAWS[law].predict(np.asarray(theta), features(run.lrs, run.steps))
        per_curve[name] = dict(zip(METRICS, curve_metrics(run.losses, predicted), strict=True))
    mean = {metric: float(np.mean([curve[metric] for curve in per_curve.values()])) for metric in METRICS}
    problem = make_problem(LAWS[law], [authors_run(size, name) for name in TRAIN])
    theta = np.asarray(theta)
    training = problem.objective(np.where(problem.logs, np.log(theta), theta))[0]
    return {
        "size": size,
        "law": law,
        "metrics": mean,
        "per_curve": per_curve,
        "training": training,
        "theta": theta.tolist(),
    }


def prediction_seconds() -> float:
    """The best of five timings of the MPL's prediction of a 72,000-step run at its logged points."""
    run = authors_run("400", "cosine_72000")
    timings = []
    for _ in range(5):
        started = time.perf_counter()
        LAWS["mpl"].predict(np.array(AUTHORS_PARAMETERS["400"]), features(run.lrs, run.steps))
        timings.append(time.perf_counter() - started)
    return min(timings)


def table(results: list[dict]) -> str:
    lines = [
        "| size | law | R^2 | MAE | RMSE | PredE | WorstE | fit time (s) | final losses inside their 95% interval |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for size in dict.fromkeys(result["size"] for result in results):
        authors = dict(zip(METRICS, AUTHORS[size], strict=True))
        lines.append(f"| {size}M | authors' MPL, their README | {cells(authors)} | | |")
        for result in (r for r in results if r["size"] == size):
            fitted = "seconds" in result
            extra = f"{result['seconds']:.1f} | {result['covered']} of {len(TEST)}" if fitted else " | "
            lines.append(f"| {size}M | {label(result, authors)} | {cells(result['metrics'])} | {extra} |")
    return "\n".join(lines)


def label(result: dict, authors: dict) -> str:
    if "seconds" not in result:
        return "authors' MPL parameters, evaluated by budgetlr"
    if result["law"] != "mpl":
        return result["law"]
    gap = result["metrics"]["PredE"] - authors["PredE"]
    verdict = f"**worse by {100 * gap:.3f} points**" if gap > 0 else f"better by {100 * -gap:.3f} points"
    return f"mpl (PredE {verdict})"


def per_curve_table(results: list[dict]) -> str:
    """PredE of each test curve: budgetlr's MPL fit beside the authors' parameters."""
    lines = [
        "| size | parameters | " + " | ".join(TEST) + " | objective on the training runs | B | beta |",
        "|---|---|" + "---|" * (len(TEST) + 3),
    ]
    for result in results:
        if result["law"] == "mpl":
            who = "budgetlr's fit" if "seconds" in result else "authors'"
            row = " | ".join(f"{100 * result['per_curve'][name]['PredE']:.3f}%" for name in TEST)
            b, beta = result["theta"][3], result["theta"][5]
            lines.append(
                f"| {result['size']}M | {who} | {row} | {result['training']:.4f} | {b:.0f} | {beta:.3f} |"
            )
    return "\n".join(lines)


def cells(metrics: dict) -> str:
    return " | ".join(format_metric(name, metrics[name]) for name in METRICS)


def format_metric(name: str, value: float) -> str:
    if name == "R^2":
        return f"{value:.4f}"
    return f"{100 * value:.3f}%" if name in ("PredE", "WorstE") else f"{value:.5f}"


def write_into(path: Path, text: str) -> None:
    """Replace what lies between the markers in ``path`` with ``text``."""
    page = path.read_text()
    head, rest = page.split(BEGIN_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    path.write_text(f"{head}{BEGIN_MARK}\n{text}\n{END_MARK}{tail}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument("--laws", nargs="+", default=list(LAWS), choices=list(LAWS))
    parser.add_argument(
        "--replicates", type=int, default=10, help="bootstrap refits per fit (they count in its time)"
    )
    parser.add_argument("--write", type=Path, help="put the tables into this page, between its markers")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        if "mpl" in args.laws:
            results.append(scored(size, "mpl", np.array(AUTHORS_PARAMETERS[size])))
        for law in args.laws:
            results.append(evaluate(size, law, args.replicates))
            print(
                f"{size}M {law}: PredE {100 * results[-1]['metrics']['PredE']:.3f}% in {results[-1]['seconds']:.1f} s",
                flush=True,
            )
    report = "\n\n".join(
        [
            f"Measured {datetime.date.today()} on {platform.machine()}, one core, {args.replicates} bootstrap "
            f"refits per fit, with `.venv/bin/python benchmarks/plan_mpl.py --write docs/plan.md`. Each metric "
            "is computed per test curve and averaged over the six test curves.",
            table(results),
            "PredE of each test curve, with the log-Huber objective (scaled as budgetlr fits it) on the "
            "three training runs and the decay term's B and beta:",
            per_curve_table(results),
            f"Predicting the 72,000-step cosine at its 546 logged points takes {prediction_seconds():.3f} s (best of 5).",
        ]
    )
    print(report)
    if args.write:
        write_into(args.write, report)


if __name__ == "__main__":
    main()
