"""Reproduce the Multi-Power Law authors' table: fit each law on their training runs, predict their
test runs, and write the table of docs/plan.md.

    .venv/bin/python benchmarks/plan_mpl.py            # all three sizes, every law
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
import json
import platform
from pathlib import Path

import numpy as np

from budgetlr.plan import LAWS, Run, fit
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
    per_curve = []
    for name in TEST:
        run = authors_run(size, name)
        predicted, _ = LAWS[law].predict(result.theta, features(run.lrs, run.steps))
        per_curve.append(curve_metrics(run.losses, predicted))
    return {
        "size": size,
        "law": law,
        "metrics": dict(zip(METRICS, np.mean(per_curve, axis=0).tolist(), strict=True)),
        "seconds": result.seconds,
        "parameters": result.parameters,
    }


def table(results: list[dict]) -> str:
    lines = [
        "| size | law | R^2 | MAE | RMSE | PredE | WorstE | fit time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for size in dict.fromkeys(result["size"] for result in results):
        authors = dict(zip(METRICS, AUTHORS[size], strict=True))
        lines.append(
            f"| {size}M | authors' MPL (README) | "
            + " | ".join(format_metric(m, authors[m]) for m in METRICS)
            + " | |"
        )
        for result in (r for r in results if r["size"] == size):
            metrics = result["metrics"]
            mark = (
                " **(above the authors')**"
                if result["law"] == "mpl" and metrics["PredE"] > authors["PredE"]
                else ""
            )
            lines.append(
                f"| {size}M | {result['law']}{mark} | "
                + " | ".join(format_metric(m, metrics[m]) for m in METRICS)
                + f" | {result['seconds']:.1f} |"
            )
    return "\n".join(lines)


def format_metric(name: str, value: float) -> str:
    return (
        f"{value:.4f}"
        if name == "R^2"
        else f"{100 * value:.3f}%"
        if name in ("PredE", "WorstE")
        else f"{value:.5f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=list(SIZES), choices=SIZES)
    parser.add_argument(
        "--laws", nargs="+", default=["mpl", "tissue", "reduced", "power"], choices=list(LAWS)
    )
    parser.add_argument(
        "--replicates", type=int, default=10, help="bootstrap refits per fit (they count in its time)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    for size in args.sizes:
        for law in args.laws:
            results.append(evaluate(size, law, args.replicates))
            print(
                f"{size}M {law}: PredE {100 * results[-1]['metrics']['PredE']:.3f}% in {results[-1]['seconds']:.1f} s",
                flush=True,
            )
    print()
    print(f"Measured {datetime.date.today()} on {platform.processor() or platform.machine()}, one core, "
          f"{args.replicates} bootstrap refits per fit:\n")  # fmt: skip
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
