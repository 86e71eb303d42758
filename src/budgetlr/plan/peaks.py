"""The peak LR for a schedule and a budget, from runs at two or more peak LRs, by two laws side by
side, each with a bootstrap interval:

* ``bound``: the convex bound (Defazio et al., arXiv 2310.07831; fitted to runs as Schaipp et al.,
  arXiv 2501.18965, use it) as a loss curve: ``L(t) = L* + D^2 a(t) / gamma + gamma G^2 b(t)``
  with ``a, b`` the bound's terms of the run's multipliers ``s = lr / peak`` up to step ``t``
  (:func:`budgetlr.plan.bound.bound_terms`). It is linear in ``(L*, D^2, G^2)``, fitted by scipy's
  bounded linear least squares over the runs' observed losses after their warmup. Its tuned peak
  LR for any schedule and horizon is the bound's minimiser, ``sqrt(D^2 a / (G^2 b))``.
* ``power``: ``lr*(T) = c T^b``, fitted in logs to the tuned LR observed at each horizon (runs of
  one schedule and length at two or more peaks: the vertex of a parabola in ``log lr`` through
  their final losses with three or more peaks, the best of them with two). It reads the horizon,
  not the schedule.

Each law is checked on held-out horizons: fitted without one horizon's runs, its tuned LR there
is compared with the one observed, as ``|log2(predicted / observed)|`` (1 is a factor of 2). The
law with the smaller median error on the horizons both could be checked on gives the answer; the
bound where neither could be checked, as it reads the schedule too.

A peak LR up to 2x beyond the runs' peaks is labelled an extrapolation; further out it is
refused, naming the run to add. The answer's interval is the chosen law's bootstrap interval (the
fit's uncertainty) widened by its largest held-out error, a factor ``2^error`` on each side: a
law's own error is usually the larger of the two. Without a held-out horizon it is the bootstrap
interval alone, and says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.plan.bound import bound_terms
from budgetlr.plan.designing import MAX_EXTRAPOLATION, interval
from budgetlr.plan.fitting import BLOCK_POINTS
from budgetlr.plan.runs import FloatArray, Run
from budgetlr.schedules import schedule

#: Runs of one schedule and length at two or more peaks, by (length, shape), with the tuned LR
#: observed among them.
Groups = dict[tuple[int, bytes], tuple[list[Run], float]]
#: ``(runs, groups, targets, rng, replicates)`` -> a law's tuned peak for each target (columns),
#: fitted to the runs (row 0) and to each bootstrap replicate (rows 1..).
PeaksOf = Callable[[Sequence[Run], Groups, Sequence[FloatArray], np.random.Generator, int], FloatArray]
#: A peak LR up to this factor beyond the runs' peaks is given, labelled an extrapolation.
MAX_PEAK_EXTRAPOLATION = 2.0
#: Observed points each run gives the bound's fit, at most (evenly spaced, the last one always).
POINTS_PER_RUN = 64
REPLICATES = 200


@dataclass(frozen=True)
class LawPeak:
    """One law's tuned peak LR and interval (``None`` where the runs cannot fit it, with the
    reason), and its errors on held-out horizons (``|log2(predicted / observed)|``, by horizon)."""

    law: str
    peak: float | None
    low: float | None
    high: float | None
    held_out: dict[str, float] = field(default_factory=dict)
    reason: str = ""

    @property
    def held_out_error(self) -> float | None:
        return float(np.median(list(self.held_out.values()))) if self.held_out else None


@dataclass(frozen=True)
class PeakLR:
    """The peak LR of the chosen law, and its interval: the bootstrap's widened by the factor
    ``widened`` (``2^`` the law's largest held-out error; 1 without a held-out horizon)."""

    schedule: str
    total_steps: int
    chosen: str
    peak: float
    low: float
    high: float
    widened: float
    laws: tuple[LawPeak, ...]
    extrapolation: tuple[str, ...]
    #: The bound's final loss for the target at peak LR ``lr``: ``L* + D^2 a / lr + lr G^2 b``, as
    #: ``(L*, D^2, G^2, a, b)``; ``None`` where the bound could not be fitted.
    bound_curve: tuple[float, float, float, float, float] | None = None

    def bound_final_loss(self, lr: FloatArray) -> FloatArray:
        """The bound's predicted final loss for the target schedule and budget at each peak ``lr``."""
        if self.bound_curve is None:
            raise InvalidInput("the convex bound could not be fitted to these runs")
        floor, distance, gradient, a, b = self.bound_curve
        return floor + distance * a / lr + lr * gradient * b

    def to_json(self) -> dict[str, Any]:
        return {
            "schedule": self.schedule,
            "total_steps": self.total_steps,
            "law": self.chosen,
            "peak": self.peak,
            "interval": [self.low, self.high],
            "widened_by": self.widened,
            "laws": [
                {
                    "law": law.law,
                    "peak": law.peak,
                    "interval": None if law.low is None else [law.low, law.high],
                    "held_out_error": law.held_out_error,
                    "held_out": law.held_out,
                    "reason": law.reason,
                }
                for law in self.laws
            ],
            "extrapolation": list(self.extrapolation),
        }


@dataclass(frozen=True, eq=False)
class Points:
    """The bound's fit as least squares: the rows ``[1, a / gamma, gamma b]``, the losses, and the
    run each row comes from."""

    rows: FloatArray
    losses: FloatArray
    run: np.ndarray


def peak_lr(runs: Sequence[Run], spec: str, total_steps: int, seed: int = 0) -> PeakLR:
    """The peak LR for ``spec`` over ``total_steps`` from ``runs`` at two or more peak LRs."""
    peaks = sorted({run.peak for run in runs})
    if len(peaks) < 2:
        found = "one run" if len(runs) == 1 else f"{len(runs)} runs all at peak LR {peaks[0]:g}"
        raise InvalidInput(f"plan lr needs runs at two or more peak LRs, got {found}")
    longest = max(run.total_steps for run in runs)
    if total_steps > MAX_EXTRAPOLATION * longest:
        raise InvalidInput(
            f"a horizon of {total_steps} steps lies past {MAX_EXTRAPOLATION}x the longest run ({longest} steps)"
        )
    target = schedule(spec, total_steps).multiplier(np.arange(total_steps))
    rng = np.random.default_rng(seed)
    groups = horizon_groups(runs)
    laws = (
        law_peak("bound", bound_peaks, runs, groups, target, rng),
        law_peak("power", power_peaks, runs, groups, target, rng),
    )
    chosen = choose(laws)
    assert chosen.peak is not None and chosen.low is not None and chosen.high is not None
    if not peaks[0] / MAX_PEAK_EXTRAPOLATION <= chosen.peak <= peaks[-1] * MAX_PEAK_EXTRAPOLATION:
        side = "higher" if chosen.peak > peaks[-1] else "lower"
        raise InvalidInput(
            f"the {chosen.law} law puts the best peak LR at {chosen.peak:.3g}, more than "
            f"{MAX_PEAK_EXTRAPOLATION:g}x beyond the runs' peaks {peaks[0]:.3g}..{peaks[-1]:.3g}: "
            f"add a run at a {side} peak LR"
        )
    reasons = []
    if total_steps > longest:
        reasons.append(f"horizon {total_steps} steps lies past the longest run ({longest} steps)")
    if not peaks[0] <= chosen.peak <= peaks[-1]:
        reasons.append(f"peak LR {chosen.peak:.4g} lies outside the runs' {peaks[0]:.4g}..{peaks[-1]:.4g}")
    widened = float(2 ** max(chosen.held_out.values(), default=0.0))
    curve = None if laws[0].peak is None else (*fit_bound(runs), *bound_terms(target))
    return PeakLR(
        spec,
        total_steps,
        chosen.law,
        chosen.peak,
        chosen.low / widened,
        chosen.high * widened,
        widened,
        laws,
        tuple(reasons),
        curve,
    )


def choose(laws: Sequence[LawPeak]) -> LawPeak:
    fitted = [law for law in laws if law.peak is not None]
    if not fitted:
        raise InvalidInput(f"no law could be fitted: {'; '.join(law.reason for law in laws)}")
    shared = set.intersection(*(set(law.held_out) for law in fitted))
    if len(fitted) == 1 or not shared:
        return next((law for law in fitted if law.held_out), fitted[0])
    return min(fitted, key=lambda law: float(np.median([law.held_out[label] for label in shared])))


def law_peak(
    name: str,
    peaks_of: PeaksOf,
    runs: Sequence[Run],
    groups: Groups,
    target: FloatArray,
    rng: np.random.Generator,
) -> LawPeak:
    """A law's peak for ``target``, its bootstrap interval and its errors on held-out horizons."""
    try:
        estimates = peaks_of(runs, groups, [target], rng, REPLICATES)
    except InvalidInput as error:
        return LawPeak(name, None, None, None, reason=str(error))
    held_out = {}
    lengths = [length for length, _ in groups]
    for (length, _), (members, observed) in groups.items():
        rest = [run for run in runs if run not in members]
        try:
            predicted = peaks_of(rest, horizon_groups(rest), [members[0].lrs / members[0].peak], rng, 0)[0][0]
        except InvalidInput:
            continue
        label = f"{length} steps" if lengths.count(length) == 1 else f"{length} steps, {members[0].name}"
        held_out[label] = abs(float(np.log2(predicted / observed)))
    peak = float(estimates[0, 0])
    low, high = interval(estimates[1:, 0]) if len(estimates) > 1 else (peak, peak)
    return LawPeak(name, peak, low, high, held_out)


def horizon_groups(runs: Sequence[Run]) -> Groups:
    """Runs of one schedule and length at two or more peaks, with the tuned LR observed among them."""
    grouped: dict[tuple[int, bytes], list[Run]] = {}
    for run in runs:
        shape = np.round(run.lrs / run.peak, 9).tobytes()
        grouped.setdefault((run.total_steps, shape), []).append(run)
    return {
        key: (members, observed_tuned(members))
        for key, members in grouped.items()
        if len({run.peak for run in members}) >= 2
    }


def observed_tuned(runs: Sequence[Run]) -> float:
    """The tuned LR among runs of one schedule and length: the vertex of a parabola in ``log lr``
    through their final losses, where there are three or more peaks and it opens upwards within
    them; else the peak with the lowest final loss."""
    logs = np.log([run.peak for run in runs])
    finals = np.array([run.losses[-1] for run in runs])
    best = float(np.exp(logs[np.argmin(finals)]))
    if len(set(logs)) < 3:
        return best
    curvature, slope, _ = np.polyfit(logs, finals, 2)
    vertex = -slope / (2 * curvature) if curvature > 0 else np.inf
    return float(np.exp(vertex)) if logs.min() <= vertex <= logs.max() else best


def bound_points(runs: Sequence[Run]) -> Points:
    rows, losses, owner = [], [], []
    for index, run in enumerate(runs):
        s = run.lrs / run.peak
        warm = int(np.argmax(s >= 1.0 - 1e-12))
        observed = np.flatnonzero(run.steps >= warm)
        chosen = observed[np.unique(np.linspace(0, observed.size - 1, POINTS_PER_RUN).round().astype(int))]
        for point in chosen if observed.size else []:
            a, b = bound_terms(s[: run.steps[point] + 1])
            rows.append([1.0, a / run.peak, run.peak * b])
            losses.append(run.losses[point])
            owner.append(index)
    if not rows:
        raise InvalidInput("no run has an observed loss after its warmup")
    return Points(np.array(rows), np.array(losses), np.array(owner))


def bound_peaks(
    runs: Sequence[Run],
    groups: Groups,
    targets: Sequence[FloatArray],
    rng: np.random.Generator,
    replicates: int,
) -> FloatArray:
    """The bound's tuned peak for each target (columns), fitted to the runs (row 0) and to
    ``replicates`` block-bootstrap resamples of their points (rows 1..)."""
    points = bound_points(runs)
    terms = np.array([bound_terms(target) for target in targets])
    estimates = []
    for replicate in range(replicates + 1):
        weights = None if replicate == 0 else block_weights(points.run, rng)
        _, distance, gradient = solve_bound(points, weights)
        if distance > 0 and gradient > 0:
            estimates.append(np.sqrt(distance * terms[:, 0] / (gradient * terms[:, 1])))
        elif replicate == 0:
            side = "higher" if gradient <= 0 else "lower"
            raise InvalidInput(
                "the runs do not bracket the best peak LR: the convex bound puts it at "
                f"{'infinity' if gradient <= 0 else '0'}; add a run at a {side} peak LR"
            )
    return np.array(estimates)


def fit_bound(runs: Sequence[Run]) -> tuple[float, float, float]:
    """The bound's ``(L*, D^2, G^2)`` fitted to the runs' observed losses after their warmup."""
    return solve_bound(bound_points(runs))


def solve_bound(points: Points, weights: FloatArray | None = None) -> tuple[float, float, float]:
    from scipy.optimize import lsq_linear

    root = np.ones(points.losses.size) if weights is None else np.sqrt(weights)
    scale = np.abs(points.rows).max(axis=0)
    solution = lsq_linear(
        points.rows / scale * root[:, None], points.losses * root, bounds=([-np.inf, 0, 0], np.inf)
    ).x
    floor, distance, gradient = solution / scale
    return float(floor), float(distance), float(gradient)


def block_weights(owner: np.ndarray, rng: np.random.Generator) -> FloatArray:
    """Weights of a bootstrap resample of each run's points, in blocks of consecutive points."""
    weights = np.zeros(owner.size)
    for index in np.unique(owner):
        rows = np.flatnonzero(owner == index)
        blocks = -(-rows.size // BLOCK_POINTS)
        counts = np.bincount(rng.integers(0, blocks, size=blocks), minlength=blocks)
        weights[rows] = np.repeat(counts, BLOCK_POINTS)[: rows.size]
    return weights


def power_peaks(
    runs: Sequence[Run],
    groups: Groups,
    targets: Sequence[FloatArray],
    rng: np.random.Generator,
    replicates: int,
) -> FloatArray:
    """``lr*(T) = c T^b`` fitted to the tuned LR of each horizon (row 0) and of ``replicates``
    resamples of the runs within each horizon (rows 1..), at each target's length (columns)."""
    horizons = sorted({key[0] for key in groups})
    if len(horizons) < 2:
        raise InvalidInput(
            "lr*(T) = c T^b needs the tuned LR at two or more horizons (runs of one schedule and "
            f"length at two or more peaks), the runs give {len(horizons)}"
        )
    lengths = np.log([target.size for target in targets])
    members = list(groups.values())
    estimates = []
    for replicate in range(replicates + 1):
        if replicate == 0:
            tuned = [observed for _, observed in members]
        else:
            tuned = [
                observed_tuned([group[i] for i in rng.integers(0, len(group), len(group))])
                for group, _ in members
            ]
        logs_t = np.log([key[0] for key in groups])
        slope, intercept = np.polyfit(logs_t, np.log(tuned), 1)
        estimates.append(np.exp(intercept + slope * lengths))
    return np.array(estimates)
