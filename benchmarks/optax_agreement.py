"""How far ``budgetlr.optax`` schedules (jax.numpy under ``jax.jit``) lie from the numpy ones, in
float32 and with ``jax_enable_x64``: the worst absolute difference at peak 1 over every step of
each family's docstring example at several budgets.

    .venv/bin/python benchmarks/optax_agreement.py [--budgets 50,300,1000,10000]
"""

from __future__ import annotations

import argparse
import re

import jax
import jax.numpy as jnp
import numpy as np

import budgetlr
from budgetlr.optax import schedule
from budgetlr.schedules import FAMILIES


def docstring_specs() -> list[str]:
    specs = []
    for family in FAMILIES.values():
        found = re.search(r'schedule\("(.+?)", \d+\)', family.__doc__ or "")
        if found:
            specs.append(found.group(1))
    return specs


def worst_difference(specs: list[str], budgets: list[int]) -> float:
    worst = 0.0
    for spec in specs:
        for total_steps in budgets:
            try:
                expected = budgetlr.schedule(spec, total_steps).lr(np.arange(total_steps + 3), 1.0)
            except ValueError:  # e.g. a warmup in steps longer than the budget
                continue
            got = jax.jit(schedule(spec, total_steps))(jnp.arange(total_steps + 3))
            worst = max(worst, float(np.abs(np.asarray(got, dtype=np.float64) - expected).max()))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", default="50,300,1000,10000")
    budgets = [int(value) for value in parser.parse_args().budgets.split(",")]
    specs = docstring_specs()
    print(f"{len(specs)} specs, budgets {budgets}")
    print(f"float32: worst |optax - numpy| = {worst_difference(specs, budgets):.2g} of the peak")
    jax.config.update("jax_enable_x64", True)
    print(f"x64:     worst |optax - numpy| = {worst_difference(specs, budgets):.2g} of the peak")


if __name__ == "__main__":
    main()
