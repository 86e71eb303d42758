"""What ``budgetlr plan design`` picks on the Multi-Power Law authors' published curves, against
what their runs observed: for each model size, the best spec for their 24,000-step budget at peak
3e-4 (warmup 2,160 steps), its predicted gain over their cosine (to 0.1 x peak), and the gain
their WSD runs actually had over that cosine.

    .venv/bin/python benchmarks/plan_design.py [--write docs/plan.md]

Two fits per size: the authors' own MPL parameters (no bootstrap, so no interval), and budgetlr's
MPL fit on the three training runs (cosine 24k, constant 24k, wsdcon_9) with 10 bootstrap refits.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import datetime
import platform
from pathlib import Path

from budgetlr.plan import FAMILIES, Fit, RunFit, design, fit
from budgetlr.plan.laws import LAWS
from plan_mpl import AUTHORS_PARAMETERS, PEAK, SIZES, TRAIN, WARMUP, authors_run

STEPS = 24000
AUTHORS_COSINE = "cosine(floor=0.1)"
BASELINES = (AUTHORS_COSINE, "linear")
BEGIN_MARK, END_MARK = "<!-- benchmarks/plan_design.py: begin -->", "<!-- benchmarks/plan_design.py: end -->"


def authors_fit(size: str) -> Fit:
    runs = tuple(RunFit(name, STEPS, PEAK, 1, 0.0) for name in TRAIN)
    parameters = dict(zip(LAWS["mpl"].parameters, AUTHORS_PARAMETERS[size], strict=True))
    return Fit("mpl", parameters, 0.0, runs, (), 0, 0.0)


def observed(size: str) -> str:
    """The final loss of the authors' cosine 24k run, and of their two WSD runs (decay 20k-24k)."""
    cosine = authors_run(size, "cosine_24000").losses[-1]
    cells = [f"{cosine:.4f}"]
    for name in ("wsd_20000_24000", "wsdld_20000_24000"):
        final = authors_run(size, name).losses[-1]
        cells.append(f"{final:.4f} ({cosine - final:+.4f})")
    return " | ".join(cells)


def row(size: str, label: str, fitted: Fit) -> str:
    result = design(fitted, STEPS, PEAK, FAMILIES, warmup_steps=WARMUP, baselines=BASELINES)
    best, cosine = result.best, result.gains[0]
    interval = f" [{cosine.low:+.4f}, {cosine.high:+.4f}]" if fitted.samples else ""
    verdict = (
        "" if not fitted.samples else (" exceeds its interval" if cosine.exceeds else " within its interval")
    )
    predicted_cosine = best.final_loss + cosine.gain
    return (
        f"| {size}M | {label} | `{best.spec}` | {best.final_loss:.4f} | {predicted_cosine:.4f} "
        f"| {cosine.gain:+.4f}{interval}{verdict} | {observed(size)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--write", type=Path, help="put the table into this page, between its markers")
    args = parser.parse_args()
    rows = []
    for size in SIZES:
        rows.append(row(size, "authors' parameters", authors_fit(size)))
        fitted = fit([authors_run(size, name) for name in TRAIN], law="mpl", replicates=10)
        rows.append(row(size, "budgetlr's fit", fitted))
        print(rows[-2], rows[-1], sep="\n", flush=True)
    report = "\n".join(
        [
            f"Measured {datetime.date.today()} on {platform.machine()} with "
            "`.venv/bin/python benchmarks/plan_design.py --write docs/plan.md`: every family "
            f"({len(FAMILIES) - 1} searched; power needs a batch size the published runs do not give), "
            f"{STEPS} steps at peak {PEAK:g}, warmup {WARMUP} steps; the gain is over the authors' cosine "
            f"(`{AUTHORS_COSINE}`), its interval the fit's 95% bootstrap interval (10 refits).",
            "",
            "| size | parameters | designed spec | predicted final loss | predicted cosine | predicted gain over cosine "
            "| observed cosine 24k | observed WSD exp. 20k-24k (gain) | observed WSD linear 20k-24k (gain) |",
            "|---|---|---|---|---|---|---|---|---|",
            *rows,
        ]
    )
    print(report)
    if args.write:
        page = args.write.read_text()
        head, rest = page.split(BEGIN_MARK, 1)
        _, tail = rest.split(END_MARK, 1)
        args.write.write_text(f"{head}{BEGIN_MARK}\n{report}\n{END_MARK}{tail}")


if __name__ == "__main__":
    main()
