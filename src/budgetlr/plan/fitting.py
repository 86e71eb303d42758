"""Fitting a law to runs: log-Huber on the losses, multi-start, scipy's bounded L-BFGS-B, and
bootstrap intervals.

The objective is the mean Huber loss (delta 1e-3) of ``log L_pred - log L_obs`` over every observed
point of every run, as the Multi-Power Law authors fit. Positive parameters are optimised on a log
scale, ``L0`` on a linear one: below the largest observed loss, as annealing can take the loss
below ``L0``, or below the smallest for the power law in steps. Many random starts are scored,
the best few are refined with L-BFGS-B to convergence, and the best refinement wins; everything
draws from one seeded generator, so a fit is the same twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from budgetlr.errors import InvalidInput
from budgetlr.plan.laws import Features, Law, features, law_named
from budgetlr.plan.runs import FloatArray, Run

HUBER_DELTA = 1e-3
#: Random starts scored, and the best of them refined with L-BFGS-B.
CANDIDATES = 64
REFINED = 3
#: Bootstrap replicates, the length of a block of consecutive points resampled together, and the
#: objective evaluations a replicate's refit may take from the fit (its start): a bound on its time.
REPLICATES = 10
REPLICATE_EVALUATIONS = 200
BLOCK_POINTS = 8
WIDE = 1e12


@dataclass(frozen=True)
class RunFit:
    """How one fitted run came out: its size and PredE, the mean of ``|L - L_pred| / L``."""

    name: str
    total_steps: int
    peak: float
    points: int
    pred_e: float


@dataclass(frozen=True)
class Fit:
    """A law's fitted parameters, the objective at them, each run's PredE, and bootstrap samples
    of the parameters (one row per replicate) from which intervals are read."""

    law: str
    parameters: dict[str, float]
    objective: float
    runs: tuple[RunFit, ...]
    samples: tuple[tuple[float, ...], ...]
    seed: int
    seconds: float

    @property
    def theta(self) -> FloatArray:
        return np.array(list(self.parameters.values()))

    def interval(self, name: str, level: float = 0.95) -> tuple[float, float]:
        """The bootstrap percentile interval of parameter ``name``."""
        column = np.array(self.samples)[:, list(self.parameters).index(name)]
        tail = 100 * (1 - level) / 2
        return float(np.percentile(column, tail)), float(np.percentile(column, 100 - tail))


@dataclass(frozen=True, eq=False)
class Problem:
    """The runs as the optimiser sees them: each run's features and log losses, and the scale of
    each parameter."""

    law: Law
    runs: tuple[Features, ...]
    log_losses: tuple[FloatArray, ...]
    logs: np.ndarray  # True where a parameter is optimised on a log scale
    bounds: list[tuple[float, float]]

    def theta(self, z: FloatArray) -> FloatArray:
        return np.where(self.logs, np.exp(z), z)

    def objective(
        self, z: FloatArray, weights: Sequence[FloatArray] | None = None
    ) -> tuple[float, FloatArray]:
        theta = self.theta(z)
        total, gradient, count = 0.0, np.zeros_like(z), 0.0
        for index, (run, log_loss) in enumerate(zip(self.runs, self.log_losses, strict=True)):
            predicted, jacobian = self.law.predict(theta, run, gradient=True)
            assert jacobian is not None
            predicted = np.maximum(predicted, 1e-12)
            residual = np.log(predicted) - log_loss
            weight = np.ones_like(residual) if weights is None else weights[index]
            small = np.abs(residual) <= HUBER_DELTA
            huber = np.where(small, 0.5 * residual**2, HUBER_DELTA * (np.abs(residual) - 0.5 * HUBER_DELTA))
            total += float(weight @ huber)
            slope = weight * np.clip(residual, -HUBER_DELTA, HUBER_DELTA) / predicted
            gradient += slope @ jacobian
            count += float(weight.sum())
        scale = 1.0 / (count * HUBER_DELTA**2)  # an objective of order 1 for L-BFGS-B's tolerances
        return total * scale, gradient * np.where(self.logs, theta, 1.0) * scale

    def refine(
        self, z: FloatArray, weights: Sequence[FloatArray] | None = None, evaluations: int | None = None
    ) -> tuple[FloatArray, float]:
        """L-BFGS-B from ``z``: to convergence, or to a looser tolerance within ``evaluations``."""
        from scipy.optimize import minimize  # here, so that predicting never imports it

        tolerance = {"ftol": 1e-15, "gtol": 1e-12} if evaluations is None else {"ftol": 1e-10, "gtol": 1e-6}
        result = minimize(
            self.objective,
            z,
            args=(weights,),
            jac=True,
            method="L-BFGS-B",
            bounds=self.bounds,
            options={"maxiter": 5000, "maxfun": evaluations or 15000, **tolerance},
        )
        return result.x, float(result.fun)


def fit(
    runs: Sequence[Run],
    law: str = "mpl",
    seed: int = 0,
    replicates: int = REPLICATES,
    progress: bool = False,
) -> Fit:
    """Fit ``law`` to ``runs``; ``replicates`` bootstrap refits give the intervals (over seeds,
    from each point's ``spread``, where the runs give one; else over blocks of points).

    Raises :class:`~budgetlr.errors.InvalidInput` naming the run to add when the runs cannot
    identify the law.
    """
    started = time.perf_counter()
    chosen = law_named(law)
    check_identifiable(chosen, runs)
    problem = make_problem(chosen, runs)
    rng = np.random.default_rng(seed)
    candidates = [initial_guess(problem, runs, rng) for _ in range(CANDIDATES)]
    scores = [problem.objective(z)[0] for z in candidates]
    best = [candidates[index] for index in np.argsort(scores)[:REFINED]]
    refined = [problem.refine(z) for z in bar(best, progress, f"fitting {law}: starts")]
    z, objective = min(refined, key=lambda pair: pair[1])
    samples = [
        problem.theta(sample.refine(z, weights, REPLICATE_EVALUATIONS)[0])
        for sample, weights in (
            replicate(problem, runs, rng)
            for _ in bar(range(replicates), progress, f"fitting {law}: bootstrap")
        )
    ]
    theta = problem.theta(z)
    return Fit(
        law=chosen.name,
        parameters=dict(zip(chosen.parameters, map(float, theta), strict=True)),
        objective=objective,
        runs=tuple(
            run_fit(chosen, theta, run, features_) for run, features_ in zip(runs, problem.runs, strict=True)
        ),
        samples=tuple(tuple(map(float, sample)) for sample in samples),
        seed=seed,
        seconds=time.perf_counter() - started,
    )


def check_identifiable(law: Law, runs: Sequence[Run]) -> None:
    points = sum(run.steps.size for run in runs)
    if points <= len(law.parameters):
        raise InvalidInput(
            f"{law.name} has {len(law.parameters)} parameters but the runs hold {points} observed losses: "
            "add a run or log the loss at more steps"
        )
    if law.reads_decay and not any((np.diff(run.lrs[: run.steps[-1] + 1]) < 0).any() for run in runs):
        raise InvalidInput(
            f"{law.name} cannot tell the LR decay's effect from constant-LR runs alone: "
            "add a run whose LR decays (a cosine, or a WSD cooldown)"
        )


def make_problem(law: Law, runs: Sequence[Run]) -> Problem:
    logs = np.array([name in law.log_scaled for name in law.parameters])
    # Below L0 only by annealing: a law without a decay term stays above it, one with may not.
    losses = np.concatenate([run.losses for run in runs])
    ceiling = losses.max() if law.reads_decay else losses.min() * (1 - 1e-9)
    bounds = [
        (np.log(1e-3), np.log(5.0)) if name in ("alpha", "beta", "gamma") else (-np.log(WIDE), np.log(WIDE))
        for name in law.parameters
    ]
    bounds[0] = (0.0, float(ceiling))
    if "memory" in law.parameters:  # at least a step, at most the longest run
        bounds[law.parameters.index("memory")] = (0.0, float(np.log(max(run.total_steps for run in runs))))
    return Problem(
        law,
        tuple(features(run.lrs, run.steps) for run in runs),
        tuple(np.log(run.losses) for run in runs),
        logs,
        bounds,
    )


def initial_guess(problem: Problem, runs: Sequence[Run], rng: np.random.Generator) -> FloatArray:
    """A random start on the scale of the runs: ``L0`` below the smallest loss, ``A`` matching the
    mean loss at the median ``S1``, a decay term of a few percent of the loss."""

    def log_uniform(low: float, high: float) -> float:
        return float(np.exp(rng.uniform(np.log(low), np.log(high))))

    lowest = min(float(run.losses.min()) for run in runs)
    mean = float(np.mean(np.concatenate([run.losses for run in runs])))
    peak = max(run.peak for run in runs)
    s1 = np.concatenate(
        [
            run.steps + 1.0 if problem.law.name == "power" else f.s1
            for run, f in zip(runs, problem.runs, strict=True)
        ]
    )
    guess = {"L0": rng.uniform(0.3, 0.95) * lowest, "alpha": log_uniform(0.1, 1.0)}
    guess["A"] = (mean - guess["L0"]) * float(np.median(s1)) ** guess["alpha"]
    guess["gamma"] = log_uniform(0.2, 1.2)
    guess["beta"] = log_uniform(0.2, 2.0)
    drop = log_uniform(0.02, 0.5) * lowest
    longest = max(run.total_steps for run in runs)
    guess["memory"] = log_uniform(0.01, 0.3) * longest
    if problem.law.name == "tissue":
        guess["C"] = drop / (guess["memory"] * peak)
    else:
        guess["C"] = log_uniform(1e-3, 1.0) * peak ** (guess["gamma"] - 1)
    guess["B"] = drop / peak
    theta = np.array([guess[name] for name in problem.law.parameters])
    z = np.where(problem.logs, np.log(np.maximum(theta, 1e-300)), theta)
    return np.clip(z, [low for low, _ in problem.bounds], [high for _, high in problem.bounds])


def replicate(
    problem: Problem, runs: Sequence[Run], rng: np.random.Generator
) -> tuple[Problem, list[FloatArray] | None]:
    """One bootstrap replicate. Where every run gives its losses' spread over seeds (the standard
    error of the mean loss), new losses are drawn around the observed ones; otherwise blocks of
    consecutive points are drawn with replacement, as weights on the points."""
    if all(run.spread is not None for run in runs):
        drawn = tuple(
            np.log(np.maximum(run.losses + rng.normal(0.0, np.asarray(run.spread)), 1e-12)) for run in runs
        )
        return replace(problem, log_losses=drawn), None
    weights = []
    for run in runs:
        blocks = -(-run.steps.size // BLOCK_POINTS)
        counts = np.bincount(rng.integers(0, blocks, size=blocks), minlength=blocks)
        weights.append(np.repeat(counts, BLOCK_POINTS)[: run.steps.size].astype(np.float64))
    return problem, weights


def run_fit(law: Law, theta: FloatArray, run: Run, features_: Features) -> RunFit:
    predicted, _ = law.predict(theta, features_)
    return RunFit(
        run.name,
        run.total_steps,
        run.peak,
        int(run.steps.size),
        float(np.mean(np.abs(run.losses - predicted) / run.losses)),
    )


def bar(items, show: bool, label: str):  # type: ignore[no-untyped-def]
    if not show:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=label, leave=False)
