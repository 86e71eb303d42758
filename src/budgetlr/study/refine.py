"""Refinement end to end (arXiv 2310.07831): a stored run's gradient norms become a schedule file.

The benchmark records every trial's per-step gradient norms (l2, and l1 for Adam-type
optimizers). :func:`refine_trial` refines those of one stored trial and writes the result as an
``array`` schedule, which spec strings and :class:`budgetlr.torch.BudgetScheduler` accept: at
the run's budget it replays, step for step, what ``refined(norms=[...])`` gives. The spec it
prints holds the values (``array(values=[...])``); the ``.npy`` file keeps them too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from budgetlr.bench.store import Store, Trial
from budgetlr.bench.workloads import resolve_workload
from budgetlr.errors import InvalidInput
from budgetlr.plotting import pyplot, save
from budgetlr.schedules import parse
from budgetlr.schedules.base import FloatArray
from budgetlr.schedules.refined import Refined


@dataclass(frozen=True)
class RefinedRun:
    trial: Trial
    kind: str
    norms: FloatArray
    multipliers: FloatArray
    path: Path

    @property
    def spec(self) -> str:
        """The spec string that replays the refined schedule: the multipliers themselves, so a
        trial that stores it depends on no file."""
        return str(parse({"name": "array", "values": self.multipliers.tolist()}))

    def summary(self) -> str:
        peak = int(np.argmax(self.multipliers))
        area = float(self.multipliers.mean())
        return (
            f"refined {self.trial.schedule} of {self.trial.workload} at budget {self.trial.budget} "
            f"({self.trial.steps} steps, seed {self.trial.seed}, {self.kind} gradient norms): "
            f"peak at step {peak}, mean multiplier {area:.3f} (linear decay: 0.500)"
        )


def refine_trial(out: Path, key: str, smoothing: float = 0.1) -> RefinedRun:
    """Refine stored trial ``key`` (a unique prefix is enough) of results folder ``out``; writes
    ``out/refined/KEY.npy`` (the multipliers) and ``KEY.png`` (them against linear decay)."""
    with Store.existing(out) as store:
        trial = store.find(key)
        optimizer, kind = resolve_workload(trial.workload).refinement
        norms = store.grad_norms(trial.key, kind)
    if trial.status != "ok":
        raise InvalidInput(f"trial {trial.key} diverged: its gradient norms say nothing about a schedule")
    if norms is None:
        raise InvalidInput(
            f"trial {trial.key} has no recorded {kind} gradient norms: budgetlr records them for "
            "linear-decay trials, the runs refinement starts from (and budgetlr < 0.2 for none)"
        )
    refined = Refined(norms=tuple(norms), optimizer=optimizer, smoothing=smoothing)
    # The LR of each step as the refined family gives it at this budget, so the array replays it.
    multipliers = refined.multiplier(np.arange(norms.size), norms.size)
    folder = Path(out).resolve() / "refined"
    folder.mkdir(exist_ok=True)
    run = RefinedRun(trial, kind, norms, multipliers, folder / f"{trial.key}.npy")
    np.save(run.path, multipliers)
    plot_refined(run, run.path.with_suffix(".png"))
    return run


def plot_refined(run: RefinedRun, path: Path) -> None:
    plt = pyplot()
    steps = np.arange(run.multipliers.size)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 6), sharex=True, layout="constrained")
    top.plot(steps, run.norms, linewidth=0.8, color="tab:gray")
    top.set_ylabel(f"{run.kind} gradient norm")
    top.set_title(
        f"{run.trial.workload}, {run.trial.schedule}, budget {run.trial.budget}, seed {run.trial.seed}"
    )
    bottom.plot(steps, run.multipliers, label="refined", linewidth=1.6)
    bottom.plot(steps, 1 - steps / steps.size, label="linear decay", linestyle="--")
    bottom.set_xlabel("optimizer step")
    bottom.set_ylabel("multiplier of the peak LR")
    bottom.legend()
    for axes in (top, bottom):
        axes.grid(alpha=0.3)
    save(figure, path)
