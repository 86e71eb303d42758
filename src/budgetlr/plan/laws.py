"""Loss-curve laws: the loss at a step as a function of the LR of every step up to it.

Notation: ``eta_t`` is the absolute LR of 0-based step ``t`` and ``S1(t) = sum_{tau <= t} eta_tau``
(warmup included, and the step's own LR too). Each law is evaluated in float64 at the observed
steps of one LR sequence, with its gradient for the fit.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.plan.runs import FloatArray, IntArray

LawName = Literal["mpl", "tissue", "reduced", "power"]
#: An MPL block holds at most this many (observed step, LR drop) pairs: 400 kB arrays stay in cache.
BLOCK_ELEMENTS = 50_000


@dataclass(frozen=True, eq=False)
class Features:
    """What a law needs of one LR sequence at its observed steps, computed once per run."""

    lrs: FloatArray
    steps: IntArray
    s1: FloatArray
    cumulative: FloatArray  # cumulative[t] = sum of the LRs of steps 0..t-1


def features(lrs: FloatArray, steps: IntArray) -> Features:
    cumulative = np.concatenate([[0.0], np.cumsum(lrs)])
    return Features(lrs, steps, cumulative[steps + 1], cumulative)


class Law(ABC):
    """A loss-curve law: ``predict`` gives the loss at each observed step and, if asked, its
    derivatives by each parameter (one column each, in the order of ``parameters``)."""

    name: ClassVar[LawName]
    parameters: ClassVar[tuple[str, ...]]
    #: Parameters fitted on a log scale (all positive); the others on a linear one.
    log_scaled: ClassVar[tuple[str, ...]]
    #: Whether the law reads the LR's decay, and so needs a run whose LR decays to be fitted.
    reads_decay: ClassVar[bool] = True

    @abstractmethod
    def predict(
        self, theta: FloatArray, run: Features, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray | None]:
        """The loss at ``run.steps`` and, with ``gradient``, its Jacobian (steps x parameters)."""

    def power_part(
        self, theta: FloatArray, run: Features, gradient: bool
    ) -> tuple[FloatArray, FloatArray | None]:
        """``L0 + A * S1^-alpha`` and its derivatives by ``L0, A, alpha`` (the first three parameters)."""
        floor, scale, alpha = theta[:3]
        power = run.s1 ** (-alpha)
        if not gradient:
            return floor + scale * power, None
        jacobian = np.stack([np.ones_like(power), power, -scale * power * np.log(run.s1)], axis=1)
        return floor + scale * power, jacobian


class MultiPowerLaw(Law):
    """``L(t) = L0 + A * S1(t)^-alpha - LD(t)`` with
    ``LD(t) = B * sum_{k=0..t} (eta_{k-1} - eta_k) * G(eta_k^-gamma * S_k(t))`` with ``eta_{-1} = 0``,
    ``S_k(t) = sum_{tau=k..t} eta_tau`` and ``G(x) = 1 - (C x + 1)^-beta`` (Luo et al., arXiv
    2503.12811). Warmup counts inside ``S1`` and inside the sum, where its rising steps enter with
    the opposite sign, as in the authors' code. The sum starts at ``k = 0`` because the LR is 0
    before training, so a warmup that starts at a floor (as budgetlr's
    do) rises from 0 like the authors' ``linspace(0, peak, W)`` and shifts no prediction; for a run
    whose LR starts at 0, as theirs do, the term is 0 and this is exactly their formula."""

    name = "mpl"
    parameters = ("L0", "A", "alpha", "B", "C", "beta", "gamma")
    log_scaled = ("A", "alpha", "B", "C", "beta", "gamma")

    def predict(
        self, theta: FloatArray, run: Features, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray | None]:
        base, base_jacobian = self.power_part(theta, run, gradient)
        drop_b, c, beta, gamma = theta[3:]
        before = np.concatenate([[0.0], run.lrs[:-1]])  # the LR before step 0 is 0
        k = np.flatnonzero(before != run.lrs)  # steps whose LR differs from the step before
        delta = before[k] - run.lrs[k]
        log_eta = np.log(np.maximum(run.lrs[k], np.finfo(np.float64).tiny))
        scale = c * np.exp(-gamma * log_eta)
        sums = np.zeros((run.steps.size, 4))
        rows = max(1, BLOCK_ELEMENTS // max(k.size, 1))
        for start in range(0, run.steps.size, rows):
            block = slice(start, start + rows)
            columns = int(np.searchsorted(k, run.steps[block][-1], side="right"))
            drops = delta[:columns]
            # x = C eta_k^-gamma S_k(t), 0 where k lies after t; kept = (1 + x)^-beta, so G = 1 - kept.
            x = np.subtract.outer(run.cumulative[run.steps[block] + 1], run.cumulative[k[:columns]])
            np.maximum(x, 0.0, out=x)
            x *= scale[:columns]
            log1p = np.log1p(x)
            kept = np.multiply(log1p, -beta)
            np.exp(kept, out=kept)
            sums[block, 0] = drops.sum() - kept @ drops
            if gradient:
                sums[block, 2] = (log1p * kept) @ drops
                np.exp(np.negative(log1p, out=log1p), out=log1p)  # 1 / (1 + x)
                np.subtract(1.0, log1p, out=log1p)  # x / (1 + x)
                log1p *= kept
                sums[block, 1] = log1p @ drops
                sums[block, 3] = log1p @ (drops * log_eta[:columns])
        loss = base - drop_b * sums[:, 0]
        if not gradient:
            return loss, None
        assert base_jacobian is not None
        extra = np.stack(
            [-sums[:, 0], -drop_b * beta / c * sums[:, 1], -drop_b * sums[:, 2], drop_b * beta * sums[:, 3]],
            axis=1,
        )
        return loss, np.hstack([base_jacobian, extra])


class AnnealingLaw(Law):
    """``L(s) = L0 + A * S1^-alpha - C * S2`` with ``S2 = sum_{i <= s} m_i`` and
    ``m_i = lambda * m_{i-1} + (eta_{i-1} - eta_i)`` (Tissue et al., arXiv 2408.11029). The
    momentum is fitted as its memory ``M = 1 / (1 - lambda)`` in steps, within the fitted runs'
    length, so it scales to them (the paper fixes 0.999, a memory of 1,000 steps, which for a
    1,000-step run would remember the whole run) and stays fixed across runs, as in the paper.
    ``S2`` starts at the end of warmup, where the LR first reaches its peak; ``S1`` counts the
    warmup, as in the Multi-Power Law."""

    name = "tissue"
    parameters = ("L0", "A", "alpha", "C", "memory")
    log_scaled = ("A", "alpha", "C", "memory")

    def predict(
        self, theta: FloatArray, run: Features, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray | None]:
        from scipy.signal import lfilter  # here: scipy.signal takes most of a second to import

        base, base_jacobian = self.power_part(theta, run, gradient)
        scale, memory = theta[3], theta[4]
        momentum = 1.0 - 1.0 / memory
        drops = np.concatenate([[0.0], run.lrs[:-1] - run.lrs[1:]])
        drops[: int(np.argmax(run.lrs)) + 1] = 0.0
        moment = lfilter([1.0], [1.0, -momentum], drops[: run.steps[-1] + 1])
        s2 = np.cumsum(moment)[run.steps]
        if not gradient:
            return base - scale * s2, None
        assert base_jacobian is not None
        # d m_i / d lambda = m_{i-1} + lambda * d m_{i-1} / d lambda, and d lambda / d M = 1 / M^2.
        by_momentum = np.cumsum(lfilter([0.0, 1.0], [1.0, -momentum], moment))[run.steps]
        extra = np.stack([-s2, -scale * by_momentum / memory**2], axis=1)
        return base - scale * s2, np.hstack([base_jacobian, extra])


class ReducedLaw(Law):
    """``L0 + A * S1^-alpha - B * (eta_peak - eta_t)``: the Multi-Power Law with its decay term
    saturated at once, a baseline for it (``eta_peak`` is the run's largest LR)."""

    name = "reduced"
    parameters = ("L0", "A", "alpha", "B")
    log_scaled = ("A", "alpha", "B")

    def predict(
        self, theta: FloatArray, run: Features, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray | None]:
        base, base_jacobian = self.power_part(theta, run, gradient)
        below_peak = run.lrs.max() - run.lrs[run.steps]
        if not gradient:
            return base - theta[3] * below_peak, None
        assert base_jacobian is not None
        return base - theta[3] * below_peak, np.hstack([base_jacobian, -below_peak[:, None]])


class StepPowerLaw(Law):
    """``L0 + A * (t + 1)^-alpha``: a power law in the number of steps taken, blind to the LR, the
    baseline a schedule-aware law must beat."""

    name = "power"
    parameters = ("L0", "A", "alpha")
    log_scaled = ("A", "alpha")
    reads_decay = False

    def predict(
        self, theta: FloatArray, run: Features, gradient: bool = False
    ) -> tuple[FloatArray, FloatArray | None]:
        steps_taken = Features(run.lrs, run.steps, run.steps.astype(np.float64) + 1.0, run.cumulative)
        return self.power_part(theta, steps_taken, gradient)


LAWS: dict[str, Law] = {
    law.name: law for law in (MultiPowerLaw(), AnnealingLaw(), ReducedLaw(), StepPowerLaw())
}


def law_named(name: str) -> Law:
    if name not in LAWS:
        raise InvalidInput(f"unknown law {name!r}; choose one of {', '.join(LAWS)}")
    return LAWS[name]


def predicted_loss(
    law: Law | str, theta: list[float] | FloatArray, lrs: FloatArray, steps: IntArray
) -> FloatArray:
    """The loss ``law`` predicts with parameters ``theta`` at ``steps`` of a run with LRs ``lrs``.

    >>> lrs = np.full(1000, 1e-3)
    >>> float(predicted_loss("power", [2.0, 1.0, 0.5], lrs, np.array([99]))[0])
    2.1
    """
    law = law_named(law) if isinstance(law, str) else law
    if len(theta) != len(law.parameters):
        raise InvalidInput(
            f"{law.name} takes {len(law.parameters)} parameters ({', '.join(law.parameters)}), got {len(theta)}"
        )
    loss, _ = law.predict(np.asarray(theta, dtype=np.float64), features(lrs, np.asarray(steps)))
    return loss
