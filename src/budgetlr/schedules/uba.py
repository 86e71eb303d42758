from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.schedules.base import FloatArray, Schedule, count_reached, first_steps, namespace, progress
from budgetlr.schedules.registry import register

#: The smallest phi: half of it is still a positive float, so the curve never computes 0 / 0.
MIN_PHI = float(np.finfo(np.float64).tiny)


#: The most restarts a UBA schedule takes: each phase's first step is computed (8 bytes a phase).
MAX_PHASES = 1_000_000


def uba_curve(p: FloatArray, phi: float) -> FloatArray:
    """``m = u / (phi/2 + (1 - phi/2) u)`` with the cosine multiplier ``u = (1 + cos(pi p)) / 2``,
    computed as ``u / (u + phi/2 (1 - u))``: the same value, without the cancellation of
    ``phi/2 + (1 - phi/2)`` that makes a huge ``phi`` divide by 0 at ``u = 1``."""
    c = namespace(p).cos(np.pi * p)
    u, rest = 0.5 * (1.0 + c), 0.5 * (1.0 - c)
    return u / (u + 0.5 * phi * rest)


@register
@dataclass(frozen=True)
class UBA(Schedule):
    """Unified Budget-Aware schedule (arXiv 2505.24452, NeurIPS 2025).

    With ``c = cos(pi p)``: ``m(p) = 2 (1 + c) / (2 phi + (2 - phi)(1 + c))``. ``phi > 0`` is linked
    by the paper to the condition number of the loss landscape; ``phi = 2`` is exactly cosine
    annealing, ``phi = 1`` the REX transform of cosine, ``m(0.5) = 2 / (2 + phi)``, and ``m`` falls
    as ``phi`` grows.

    What is known, and what is budgetlr's own:

    * the closed form is taken from a public implementation; the paper body was not available to
      check it against;
    * that implementation requires ``0 <= phi <= 2``; ``phi > 2`` is well defined here but goes
      beyond it;
    * the paper's own recommendation for ``phi`` was not available, so the default ``phi = 1`` is
      budgetlr's choice, not UBA's;
    * ``phases > 1``, which restarts UBA in equal phases on phase-local progress, is budgetlr's
      extension: no source for it was found.

    >>> from budgetlr import schedule
    >>> schedule("uba(phi=0.5, warmup=0.05)", 100).multiplier([0, 25, 50, 100]).round(4).tolist()
    [0.1667, 0.9714, 0.8252, 0.0]
    """

    name = "uba"
    paper = "2505.24452"
    measured: ClassVar[dict[str, str]] = {
        "phi": "use budgetlr.adaptive.phi.auto_schedule(spec, model, loss, batch, total_steps), "
        "or give the spec to 'budgetlr bench', which measures it per trial"
    }
    extensions: ClassVar[dict[str, str]] = {
        "phi": "the default phi=1 is budgetlr's choice; phi > 2 goes beyond the only public "
        "implementation (0 <= phi <= 2)",
        "phases": "phases > 1 (restarts) is budgetlr's extension; no source for it was found",
    }

    phi: float = 1.0
    phases: int = 1

    def check(self) -> None:
        if not self.phi >= MIN_PHI:
            raise InvalidInput(f"phi={self.phi!r} must be > 0 (and at least {MIN_PHI:.3g})")
        if not 1 <= self.phases <= MAX_PHASES:
            raise InvalidInput(f"phases={self.phases!r} must be between 1 and {MAX_PHASES}")

    def after_warmup(self, t: FloatArray, total_steps: int, warmup_steps: int) -> FloatArray:
        scaled = progress(t, total_steps, warmup_steps) * self.phases
        if self.phases == 1:
            return uba_curve(scaled, self.phi)
        span = total_steps - warmup_steps
        ends = first_steps(lambda k: k / span * self.phases, np.arange(1, self.phases), span)
        starts = [warmup_steps + k for k in ends]
        return uba_curve(scaled - count_reached(t, starts), self.phi)

    def validate(self, total_steps: int) -> None:
        super().validate(total_steps)
        span = total_steps - self.resolve_warmup(total_steps)
        if self.phases > span:
            raise InvalidInput(
                f"phases={self.phases} must be at most the {span} steps after warmup at total_steps={total_steps}"
            )

    def is_monotone(self) -> bool:
        return self.phases == 1
