"""Designing a schedule on a fitted law: the spec, within families, whose predicted final loss is
lowest for a budget and peak LR, and its predicted gain over cosine and linear decay to 0, each
with the fit's bootstrap interval.

The gain over a baseline is ``L(baseline) - L(design)``, positive when the design is better; its
interval is the percentile interval of that difference over the fit's bootstrap samples (both
losses from the same sample), so it holds the fit's uncertainty and nothing else: not the noise
between seeds, and not the law's own error, which on published curves is about as large as the
gains it predicts (docs/plan.md).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.plan.fitting import Fit, bar
from budgetlr.plan.laws import features, law_named
from budgetlr.plan.predict import LEVEL, extrapolation
from budgetlr.plan.runs import FloatArray
from budgetlr.schedules import parse, schedule
from budgetlr.schedules.budget import Budget

Family = Literal["wsd", "linear", "polynomial", "cosine", "uba", "rex", "power"]
FAMILIES: tuple[Family, ...] = get_args(Family)
#: Each family's candidates, as the arguments of its spec (warmup added to each).
GRID: dict[Family, tuple[str, ...]] = {
    "wsd": tuple(
        f"decay={decay}, shape={shape}"
        for shape in ("linear", "1-sqrt", "cosine", "square")
        for decay in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7)
    ),
    "linear": ("floor=0", "floor=0.01", "floor=0.1"),
    "polynomial": tuple(f"power={power}" for power in (0.5, 0.75, 1.5, 2, 3)),
    "cosine": ("floor=0", "floor=0.01", "floor=0.1"),
    "uba": tuple(f"phi={phi}" for phi in (0.25, 0.5, 1, 1.5, 2, 4)),
    "rex": tuple(f"beta={beta}" for beta in (0.25, 0.5, 0.75, 0.9)),
    "power": tuple(f"decay={decay}, shape=1-sqrt" for decay in (0.1, 0.2, 0.3)),
}
BASELINES = ("cosine", "linear")
#: A horizon up to this many times the longest fitted run is predicted, labelled an extrapolation.
MAX_EXTRAPOLATION = 4


@dataclass(frozen=True)
class Candidate:
    """A spec's predicted final loss, with its bootstrap interval (the loss where the fit has no
    bootstrap samples), and the loss under each bootstrap sample."""

    spec: str
    family: str
    final_loss: float
    low: float
    high: float
    samples: tuple[float, ...]


@dataclass(frozen=True)
class Gain:
    """The predicted gain of the design over ``baseline``: ``L(baseline) - L(design)``, in loss
    and relative to the baseline's loss, and its bootstrap interval; ``exceeds`` when the interval
    lies above 0."""

    baseline: str
    gain: float
    relative: float
    low: float
    high: float

    @property
    def exceeds(self) -> bool:
        return self.low > 0


@dataclass(frozen=True)
class Design:
    law: str
    total_steps: int
    peak: float
    best: Candidate
    gains: tuple[Gain, ...]
    candidates: tuple[Candidate, ...]
    extrapolation: tuple[str, ...]
    skipped: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        def candidate(item: Candidate) -> dict[str, Any]:
            return {
                "spec": item.spec,
                "family": item.family,
                "final_loss": item.final_loss,
                "interval": [item.low, item.high],
            }

        return {
            "law": self.law,
            "total_steps": self.total_steps,
            "peak": self.peak,
            "level": LEVEL,
            "best": candidate(self.best),
            "gains": [
                {
                    "over": gain.baseline,
                    "gain": gain.gain,
                    "relative": gain.relative,
                    "interval": [gain.low, gain.high],
                    "exceeds_interval": gain.exceeds,
                }
                for gain in self.gains
            ],
            "candidates": [candidate(item) for item in self.candidates],
            "extrapolation": list(self.extrapolation),
            "skipped": list(self.skipped),
        }


def budget_steps(
    budget: Budget | int | str,
    *,
    tokens_per_step: float | None = None,
    samples_per_step: float | None = None,
    seconds_per_step: float | None = None,
) -> int:
    """The optimizer steps a budget in steps, tokens, samples or time holds, given what one step
    consumes; a law is fitted in steps, so a budget in another unit needs that rate.

    >>> budget_steps("2e9 tokens", tokens_per_step=524288), budget_steps("3h", seconds_per_step=0.5)
    (3814, 21600)
    """
    parsed = Budget.parse(budget)
    if parsed.in_steps:
        return int(parsed.amount)
    option, rate = {
        "tokens": ("tokens_per_step", tokens_per_step),
        "samples": ("samples_per_step", samples_per_step),
        "seconds": ("seconds_per_step", seconds_per_step),
    }[parsed.unit]
    if rate is None:
        raise InvalidInput(
            f"a budget of {parsed} cannot be translated into optimizer steps, which the laws count, "
            f"without the {parsed.unit} per step: give {option} (--{option.replace('_', '-')})"
        )
    if not 0 < rate < float("inf"):
        raise InvalidInput(f"{option} must be a positive number, got {rate!r}")
    steps = int(parsed.amount // rate)
    if steps < 1:
        raise InvalidInput(f"a budget of {parsed} at {rate:g} {parsed.unit} per step holds no whole step")
    return steps


def candidate_specs(
    families: Iterable[str], warmup_steps: int = 0, power: str | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """The ``(family, spec)`` pairs to try, and a line for each family that cannot be tried.
    ``power`` gives the Power scheduler's ``tokens_per_step`` and ``batch``, which it needs."""
    chosen: list[tuple[str, str]] = []
    skipped: list[str] = []
    warmup = f"warmup_steps={warmup_steps}" if warmup_steps else ""
    for family in families:
        if family not in GRID:
            raise InvalidInput(f"unknown family {family!r}; choose from {', '.join(FAMILIES)}")
        if family == "power" and power is None:
            skipped.append("power: needs the tokens per step and the batch (tokens_per_step=..., batch=...)")
            continue
        for arguments in GRID[family]:
            extra = [part for part in (arguments, warmup, power if family == "power" else "") if part]
            chosen.append((family, f"{family}({', '.join(extra)})"))
    return chosen, skipped


def design(
    fit: Fit,
    total_steps: int,
    peak: float,
    families: Sequence[str] = FAMILIES,
    *,
    warmup_steps: int = 0,
    power: str | None = None,
    baselines: Sequence[str] = BASELINES,
    progress: bool = False,
) -> Design:
    """The spec within ``families`` with the lowest final loss ``fit`` predicts over
    ``total_steps`` at ``peak``, and its gains over ``baselines`` (each with ``warmup_steps``).

    >>> from budgetlr.plan import Fit, RunFit
    >>> toy = Fit("reduced", {"L0": 2.0, "A": 1.0, "alpha": 0.5, "B": 0.5}, 0.0,
    ...           (RunFit("a", 1000, 0.1, 9, 0.0),), (), 0, 0.0)
    >>> result = design(toy, 1000, 0.1, ["cosine", "linear"])
    >>> result.best.spec, round(result.gains[0].gain, 4)
    ('cosine(floor=0.1)', 0.0016)
    """
    if not law_named(fit.law).reads_decay:
        raise InvalidInput(
            f"the {fit.law} law does not read the LR, so it predicts every schedule alike: "
            "fit mpl, tissue or reduced to design a schedule"
        )
    longest = max(run.total_steps for run in fit.runs)
    if total_steps > MAX_EXTRAPOLATION * longest:
        raise InvalidInput(
            f"a horizon of {total_steps} steps lies past {MAX_EXTRAPOLATION}x the longest fitted run "
            f"({longest} steps): fit a longer run first"
        )
    chosen, skipped = candidate_specs(families, warmup_steps, power)
    if not chosen:
        raise InvalidInput(f"no family to design from: {'; '.join(skipped)}")
    # A bad baseline is refused here, before the candidates are scored.
    reference = [(spec, with_warmup(spec, warmup_steps, total_steps)) for spec in baselines]
    scored = [
        score(fit, family, spec, total_steps, peak)
        for family, spec in bar(chosen + reference, progress, "designing: candidates")
    ]
    candidates = tuple(sorted(scored[: len(chosen)], key=lambda item: item.final_loss))
    best = candidates[0]
    gains = tuple(gain(best, base) for base in scored[len(chosen) :])
    return Design(
        fit.law,
        total_steps,
        peak,
        best,
        gains,
        candidates,
        extrapolation(fit, peak, total_steps),
        tuple(skipped),
    )


def with_warmup(spec: str, warmup_steps: int, total_steps: int) -> str:
    """``spec`` with ``warmup_steps`` when it has no warmup of its own, checked over ``total_steps``."""
    parsed = parse(spec)
    if warmup_steps and parsed.warmup is None and parsed.warmup_steps is None:
        parsed = dataclasses.replace(parsed, warmup_steps=warmup_steps)
    parsed.validate(total_steps)
    return str(parsed)


def score(fit: Fit, family: str, spec: str, total_steps: int, peak: float) -> Candidate:
    lrs = schedule(spec, total_steps).lr(np.arange(total_steps), peak)
    losses = final_losses(fit, lrs)
    low, high = interval(losses[1:]) if fit.samples else (float(losses[0]), float(losses[0]))
    return Candidate(spec, family, float(losses[0]), low, high, tuple(map(float, losses[1:])))


def final_losses(fit: Fit, lrs: FloatArray) -> FloatArray:
    """The final loss under the fit's parameters, then under each bootstrap sample."""
    law, run = law_named(fit.law), features(lrs, np.array([lrs.size - 1]))
    return np.array([law.predict(np.asarray(theta), run)[0][0] for theta in (fit.theta, *fit.samples)])


def interval(values: Sequence[float] | FloatArray) -> tuple[float, float]:
    low, high = np.percentile(np.asarray(values), [50 * (1 - LEVEL), 50 * (1 + LEVEL)])
    return float(low), float(high)


def gain(best: Candidate, baseline: Candidate) -> Gain:
    difference = baseline.final_loss - best.final_loss
    if best.samples:
        low, high = interval(np.array(baseline.samples) - np.array(best.samples))
    else:
        low, high = difference, difference
    return Gain(baseline.spec, difference, difference / baseline.final_loss, low, high)
