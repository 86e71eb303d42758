"""Fit budgetlr's rule for UBA's phi on quadratics of known curvature, and score it on quadratics it
was not fitted on (docs/adaptive.md).

First the sweep (1,344 trials; about 15 min with one worker, `--workers 1`): the quadratics the rule
is fitted on (``budgetlr.adaptive.phi.RULE_FITTED_ON``) and the two the studies score ``uba(phi=auto)``
on, ``quadratic`` (kappa 100) and ``quadratic(kappa=10000.0)``:

    budgetlr bench --workload "quadratic(kappa=10.0),quadratic(kappa=30.0),quadratic(kappa=100.0),quadratic(kappa=300.0),quadratic(kappa=1000.0),quadratic(kappa=3000.0),quadratic(kappa=10000.0)" \
        --schedules "uba(phi=0.25, warmup=0.05),uba(phi=0.5, warmup=0.05),uba(phi=1.0, warmup=0.05),uba(phi=2.0, warmup=0.05),uba(phi=4.0, warmup=0.05),uba(phi=8.0, warmup=0.05)" \
        --budgets 0.1,0.25,0.5,1.0 --lrs 0.1,0.2,0.4,0.8 --seeds 0,1 --out phi-quadratic --no-report

then ``python benchmarks/phi_rule.py phi-quadratic``. For every (kappa, budget) it takes the best
phi (peak LR tuned per phi on validation, mean over seeds) and measures each quadratic's effective
condition number with the same estimator ``uba(phi=auto)`` uses. On the fitted quadratics only it
grid-searches the rule ``log2(phi) = a + b * log10(T) + c * log10(kappa)`` (clipped to [1/4, 8])
for the least mean regret, the regret being the final loss at the rule's phi (rounded to the grid)
over the best phi's. The rule is then scored on the held-out quadratics next to every fixed phi of
the grid, which holds each phi the rule can choose.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict

import numpy as np

from budgetlr.adaptive.phi import PHI_GRID, RULE_FITTED_ON
from budgetlr.bench.curvature import estimate_for_workload
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules import parse
from budgetlr.study.analysis import cells

#: (effective kappa, steps, {phi: mean final loss at its tuned LR})
Row = tuple[float, int, dict[float, float]]


def main(out: str) -> None:
    with Store.existing(out) as store:
        table: dict[tuple[str, int], dict[float, float]] = defaultdict(dict)
        for cell in cells(store.trials()):
            table[(cell.workload, cell.steps)][parse(cell.schedule).phi] = cell.mean
    names = sorted({w for w, _ in table})
    kappas = {name: estimate_for_workload(resolve_workload(name), seed=0).kappa for name in names}
    fitted_on = {name for name in names if resolve_workload(name).kappa in RULE_FITTED_ON}
    fit_rows = sorted((kappas[w], steps, losses) for (w, steps), losses in table.items() if w in fitted_on)
    held_rows = sorted(
        (kappas[w], steps, losses) for (w, steps), losses in table.items() if w not in fitted_on
    )
    a, b, c = fit_rule(fit_rows)
    # Leave one fitted quadratic out: fit on the others, score on it.
    held_in_fit = [
        regret(fit_rule([r for r in fit_rows if r[0] != kappa]), [r for r in fit_rows if r[0] == kappa])
        for kappa in sorted({k for k, _, _ in fit_rows})
    ]
    print(
        f"rule: log2(phi) = {a:+.2f} {b:+.2f} * log10(T) {c:+.2f} * log10(kappa), "
        f"clipped to [{PHI_GRID[0]}, {PHI_GRID[-1]}]; fitted on {', '.join(sorted(fitted_on))}"
    )
    print(f"\nmean regret (final loss / best phi's) on the {len(fit_rows)} fitted cells: rule {regret((a, b, c), fit_rows):.3f} "
          f"in sample, {np.mean(held_in_fit):.3f} leaving each fitted quadratic out")  # fmt: skip
    print(
        f"\n| rule or fixed phi | mean regret on the {len(held_rows)} held-out cells ({', '.join(sorted(set(names) - fitted_on))}) |"
    )
    print("|---|---|")  # fmt: skip
    print(f"| the rule | {regret((a, b, c), held_rows):.3f} |")
    for fixed in PHI_GRID:
        print(
            f"| phi = {fixed:g} | {np.mean([losses[fixed] / min(losses.values()) for _, _, losses in held_rows]):.3f} |"
        )
    for title, rows in (("fitted", fit_rows), ("held-out", held_rows)):
        print(f"\n{title} quadratics:\n")
        print("| effective kappa | T | best phi | rule's phi | loss at best | loss at rule |")
        print("|---|---|---|---|---|---|")
        for kappa, steps, losses in rows:
            best = min(losses, key=losses.__getitem__)
            chosen = rule(steps, kappa, a, b, c)
            at = losses[nearest(chosen, sorted(losses))]
            print(f"| {kappa:.2f} | {steps} | {best:g} | {chosen:.2f} | {losses[best]:.3g} | {at:.3g} |")


def fit_rule(rows: list[Row]) -> tuple[float, float, float]:
    grid = [
        (a, b, c)
        for a in np.arange(-6.0, 6.01, 0.5)
        for b in np.arange(0.0, 6.01, 0.5)
        for c in np.arange(-24.0, 0.01, 0.5)
    ]
    return min(grid, key=lambda abc: regret(abc, rows))


def regret(coefficients: tuple[float, float, float], rows: list[Row]) -> float:
    ratios = []
    for kappa, steps, losses in rows:
        phi = nearest(rule(steps, kappa, *coefficients), sorted(losses))
        ratios.append(losses[phi] / min(losses.values()))
    return float(np.mean(ratios))


def rule(steps: int, kappa: float, a: float, b: float, c: float) -> float:
    exponent = a + b * math.log10(steps) + c * math.log10(kappa)
    return float(np.clip(2.0**exponent, PHI_GRID[0], PHI_GRID[-1]))


def nearest(phi: float, grid: list[float]) -> float:
    return min(grid, key=lambda g: abs(math.log(g / phi)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "phi-quadratic")
