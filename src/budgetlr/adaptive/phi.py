"""``uba(phi=auto)``: UBA's phi chosen from the measured curvature and the budget.

budgetlr's own rule, not the paper's (whose guideline was not available). On noisy quadratics
trained by SGD the best phi grows with the budget and falls with the condition number: few steps
per unit of condition number want a small phi (a long high plateau: the slow directions need
every step), many want a large one (an early decay that averages the noise out).
``benchmarks/phi_rule.py`` fits, on 5 quadratics (SGD with momentum 0.9; condition number 10 to
3,000, :data:`RULE_FITTED_ON`, none of those a study scores ``phi=auto`` on) at 4 budgets (T 200
to 2000, warmup 5%, peak LR tuned per phi),

    log2(phi) = RULE_INTERCEPT + RULE_STEPS * log10(T) + RULE_KAPPA * log10(kappa), clipped to [1/4, 8],

with ``kappa`` the effective condition number of :attr:`budgetlr.adaptive.curvature.Spectrum.kappa`
(top eigenvalue over mean absolute eigenvalue). docs/adaptive.md has the table and how the rule
fares on networks, where the Hessian at initialisation is only a proxy and their ``kappa`` lies
beyond the quadratics' range.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from budgetlr.adaptive.curvature import Spectrum, estimate_spectrum
from budgetlr.errors import InvalidInput
from budgetlr.schedules import Schedule, parse
from budgetlr.spec import split_spec

if TYPE_CHECKING:
    from collections.abc import Callable

    from torch import Tensor, nn

PHI_GRID = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
#: The condition numbers of the ``quadratic`` workloads the rule was fitted on: none of the
#: quadratics a study scores ``uba(phi=auto)`` on (kappa 100 and 10^4).
RULE_FITTED_ON = (10.0, 30.0, 300.0, 1000.0, 3000.0)
RULE_INTERCEPT = 1.0
RULE_STEPS = 4.0
RULE_KAPPA = -12.5


@dataclass(frozen=True)
class Suggestion:
    phi: float
    top: float
    low: float
    kappa: float
    total_steps: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def explain(self) -> str:
        return (
            f"top eigenvalue {self.top:.4g}, mean |eigenvalue| {self.low:.4g}: effective kappa "
            f"{self.kappa:.4g}; budget {self.total_steps} steps; rule {rule_text()}, gives phi = {self.phi:.3g}"
        )


def rule_text() -> str:
    return (
        f"log2(phi) = {RULE_INTERCEPT:+g} {RULE_STEPS:+g} * log10(T) {RULE_KAPPA:+g} * log10(kappa), "
        f"clipped to [{PHI_GRID[0]:g}, {PHI_GRID[-1]:g}]"
    )


def phi_rule(total_steps: int, kappa: float) -> float:
    """budgetlr's rule for UBA's phi (see the module docstring)."""
    if total_steps < 1 or not (math.isfinite(kappa) and kappa >= 1.0):
        raise InvalidInput(f"need total_steps >= 1 and a finite kappa >= 1, got {total_steps} and {kappa}")
    exponent = RULE_INTERCEPT + RULE_STEPS * math.log10(total_steps) + RULE_KAPPA * math.log10(kappa)
    return float(min(max(2.0**exponent, PHI_GRID[0]), PHI_GRID[-1]))


def suggest_phi(spectrum: Spectrum, total_steps: int) -> Suggestion:
    kappa = max(spectrum.kappa, 1.0)
    return Suggestion(phi_rule(total_steps, kappa), spectrum.top, spectrum.low, kappa, total_steps)


def auto_schedule(
    spec: str,
    model: nn.Module,
    loss: Callable[[Callable[[Tensor], Tensor], Any], Tensor],
    batch: Any,
    total_steps: int,
) -> tuple[Schedule, Suggestion]:
    """Resolve ``uba(phi=auto, ...)`` for a model: measure the Hessian of ``loss(model, batch)`` at
    the current parameters and return the UBA schedule with the chosen phi, and why.

    ``loss(forward, batch)`` must compute the loss by calling ``forward(inputs)`` in place of the
    model; use a few hundred examples in ``batch``. The schedule goes to ``BudgetScheduler``::

        schedule, why = auto_schedule("uba(phi=auto, warmup=0.05)", model, loss, batch, 10_000)
        scheduler = BudgetScheduler(optimizer, schedule, total_steps=10_000)
    """
    name, args = split_spec(spec)
    if name != "uba" or args.get("phi") != "auto":
        raise InvalidInput(f"auto_schedule resolves uba(phi=auto, ...) specs, not {spec!r}")
    suggestion = suggest_phi(estimate_spectrum(model, loss, batch), total_steps)
    return parse({"name": "uba", **args, "phi": suggestion.phi}), suggestion
