"""Fit budgetlr's rule for UBA's phi on quadratics of known curvature (docs/adaptive.md).

First the sweep (768 trials; 8 min 44 s with one worker, `--workers 1`):

    budgetlr bench --workload "quadratic(kappa=10.0),quadratic(kappa=100.0),quadratic(kappa=1000.0),quadratic(kappa=10000.0)" \
        --schedules "uba(phi=0.25, warmup=0.05),uba(phi=0.5, warmup=0.05),uba(phi=1.0, warmup=0.05),uba(phi=2.0, warmup=0.05),uba(phi=4.0, warmup=0.05),uba(phi=8.0, warmup=0.05)" \
        --budgets 0.1,0.25,0.5,1.0 --lrs 0.1,0.2,0.4,0.8 --seeds 0,1 --out phi-quadratic --no-report

then ``python benchmarks/phi_rule.py phi-quadratic``. For every (kappa, budget) it takes the best
phi (peak LR tuned per phi on validation, mean over seeds), measures each quadratic's effective
condition number with the same estimator ``uba(phi=auto)`` uses, and grid-searches the rule
``log2(phi) = a + b * log10(T) + c * log10(kappa)`` (clipped to [1/4, 8]) for the least mean regret, the regret
being the final loss at the rule's phi (rounded to the grid) over the best phi's.
"""

from __future__ import annotations

import math
import sys
from collections import defaultdict

import numpy as np

from budgetlr.adaptive.phi import PHI_GRID
from budgetlr.bench.curvature import estimate_for_workload
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules import parse
from budgetlr.study.analysis import cells


def main(out: str) -> None:
    with Store.existing(out) as store:
        table: dict[tuple[str, int], dict[float, float]] = defaultdict(dict)
        for cell in cells(store.trials()):
            table[(cell.workload, cell.steps)][parse(cell.schedule).phi] = cell.mean
    kappas = {}
    for name in sorted({w for w, _ in table}):
        workload = resolve_workload(name)
        kappas[name] = estimate_for_workload(workload, seed=0).kappa
    rows = sorted((kappas[w], steps, losses) for (w, steps), losses in table.items())

    def regret(a: float, b: float, c: float, subset: list | None = None) -> float:
        ratios = []
        for kappa, steps, losses in rows if subset is None else subset:
            phi = nearest(rule(steps, kappa, a, b, c), sorted(losses))
            ratios.append(losses[phi] / min(losses.values()))
        return float(np.mean(ratios))

    grid = [
        (a, b, c)
        for a in np.arange(-6.0, 6.01, 0.5)
        for b in np.arange(0.0, 6.01, 0.5)
        for c in np.arange(-24.0, 0.01, 0.5)
    ]
    a, b, c = min(grid, key=lambda abc: regret(*abc))
    # Leave one quadratic out: fit on the other three, score on it (an out-of-sample regret).
    held_out = []
    for kappa in sorted({k for k, _, _ in rows}):
        train = [r for r in rows if r[0] != kappa]
        test = [r for r in rows if r[0] == kappa]
        fitted = min(grid, key=lambda abc: regret(*abc, subset=train))
        held_out.append(regret(*fitted, subset=test))
    print(
        f"rule: log2(phi) = {a:+.2f} {b:+.2f} * log10(T) {c:+.2f} * log10(kappa), "
        f"clipped to [{PHI_GRID[0]}, {PHI_GRID[-1]}]"
    )
    print(f"mean regret (final loss / best phi's): rule {regret(a, b, c):.3f} in sample, "
          f"{np.mean(held_out):.3f} leaving each quadratic out of the fit")  # fmt: skip
    for fixed in PHI_GRID:
        mean = np.mean([losses[fixed] / min(losses.values()) for _, _, losses in rows])
        print(f"  fixed phi={fixed}: {mean:.3f}")
    print("\n| kappa (estimated) | T | best phi | rule's phi | loss at best | loss at rule |")
    print("|---|---|---|---|---|---|")
    for kappa, steps, losses in rows:
        best = min(losses, key=losses.__getitem__)
        chosen = rule(steps, kappa, a, b, c)
        at = losses[nearest(chosen, sorted(losses))]
        print(f"| {kappa:.2f} | {steps} | {best} | {chosen:.2f} | {losses[best]:.3g} | {at:.3g} |")


def rule(steps: int, kappa: float, a: float, b: float, c: float) -> float:
    exponent = a + b * math.log10(steps) + c * math.log10(kappa)
    return float(np.clip(2.0**exponent, PHI_GRID[0], PHI_GRID[-1]))


def nearest(phi: float, grid: list[float]) -> float:
    return min(grid, key=lambda g: abs(math.log(g / phi)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "phi-quadratic")
