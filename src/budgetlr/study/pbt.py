"""Population based training of the LR (arXiv 1711.09846, Jaderberg et al.) on Ray Tune.

A population of ``N`` members trains one workload for one budget, each at ``base_lr * lr_mult``
with its own ``lr_mult``. Every ``interval`` steps each member reports its validation metric and a
checkpoint; Ray Tune's ``PopulationBasedTraining`` then lets a member of the bottom quarter copy the
weights, optimizer state and ``lr_mult`` of one from the top quarter (exploit) and multiply
``lr_mult`` by 0.8 or 1.2, or resample it (explore). The checkpoint carries the LR of every step of
its lineage, so the best member's final checkpoint holds the schedule PBT discovered: it is saved
as an ``array`` schedule and replayed from scratch like any other schedule.

Every member sees the same batches at the same step, so members differ only by their LRs.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from budgetlr._extras import require
from budgetlr.bench.database import Status
from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult, budget_steps, check_budget, set_up
from budgetlr.bench.workloads import resolve_workload
from budgetlr.errors import InvalidInput
from budgetlr.schedules import parse

STATE_FILE = "member.pt"
#: ``lr_mult`` is drawn (and resampled) log-uniformly from this range around the base LR.
MULTIPLIER_RANGE = (0.1, 10.0)


@dataclass(frozen=True)
class PBTSettings:
    workload: str
    budget: float
    population: int = 8
    #: steps between exploit/explore decisions; default a tenth of the budget
    interval: int | None = None
    seed: int = 0
    #: the LR that ``lr_mult`` multiplies; default the middle of the workload's LR grid
    base_lr: float | None = None

    def resolved(self) -> PBTPlan:
        workload = resolve_workload(self.workload)
        check_budget(self.budget)
        if self.population < 2:
            raise InvalidInput(f"population must be >= 2 (PBT copies between members), got {self.population}")
        steps = budget_steps(workload.full_budget, self.budget)
        interval = self.interval if self.interval is not None else max(1, steps // 10)
        if not 1 <= interval <= steps:
            raise InvalidInput(f"interval must lie in [1, {steps}] steps, got {interval}")
        base_lr = self.base_lr if self.base_lr is not None else workload.lrs[len(workload.lrs) // 2]
        if not (math.isfinite(base_lr) and base_lr > 0):
            raise InvalidInput(f"base LR must be a positive number, got {base_lr}")
        return PBTPlan(str(workload), self.budget, self.population, interval, self.seed, base_lr)


@dataclass(frozen=True)
class PBTPlan:
    """:class:`PBTSettings` checked, with every default filled in."""

    workload: str
    budget: float
    population: int
    interval: int
    seed: int
    base_lr: float

    @property
    def spec(self) -> str:
        return f"pbt(population={self.population}, interval_steps={self.interval})"


@dataclass
class PBTRun:
    settings: PBTPlan
    result: TrialResult
    lrs: list[float]
    path: Path
    #: each member's final ``lr_mult``
    final_multipliers: list[float] = field(default_factory=list)

    @property
    def peak(self) -> float:
        return max(self.lrs)

    @property
    def replay_spec(self) -> str:
        """The discovered multipliers written into the spec: a stored replay depends on no file."""
        return str(parse({"name": "array", "values": np.load(self.path).tolist()}))


def train_member(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: one member, resumed from its (or its donor's) checkpoint."""
    from budgetlr.bench.executors import limit_threads

    limit_threads()
    import torch
    from ray import tune

    from budgetlr.bench.loop import train
    from budgetlr.bench.methods import method

    setup = set_up(
        config["workload"], config["budget"], method("constant"), config["base_lr"], config["seed"]
    )
    workload, steps, model, optimizer = setup.workload, setup.steps, setup.model, setup.optimizer
    state: dict[str, Any] = {"step": 0, "lrs": [], "curve": []}
    checkpoint = tune.get_checkpoint()
    if checkpoint:
        with checkpoint.as_directory() as folder:
            state = torch.load(Path(folder) / STATE_FILE, weights_only=False)
        model.load_state_dict(state.pop("model"))
        optimizer.load_state_dict(state.pop("optimizer"))
    batches = setup.batches(state["step"])
    worst = -math.inf if workload.higher_is_better else math.inf
    while state["step"] < steps:
        lr = config["base_lr"] * config["lr_mult"]
        for group in optimizer.param_groups:
            group["lr"] = lr
        count = min(config["interval"], steps - state["step"])
        run = train(model, optimizer, workload.loss, batches, range(state["step"], state["step"] + count))
        losses, diverged = run.losses, run.diverged
        state["step"] += count
        state["lrs"].extend([lr] * count)
        val = worst if diverged else workload.evaluate(model, "val")
        if not math.isfinite(val):
            val = worst
        train_loss = float(torch.tensor(losses, dtype=torch.float32).mean()) if losses else math.inf
        state["curve"].append((state["step"], train_loss, val, lr))
        score = val if workload.higher_is_better else -val  # PBT maximises "score"
        with tempfile.TemporaryDirectory() as folder:
            torch.save(
                {**state, "model": model.state_dict(), "optimizer": optimizer.state_dict()},
                Path(folder) / STATE_FILE,
            )
            tune.report(
                {
                    "score": score if math.isfinite(score) else -1e30,
                    "val": val,
                    "step": state["step"],
                    "train_seconds": run.train_seconds,
                },
                checkpoint=tune.Checkpoint.from_directory(folder),
            )
        if diverged:
            return


def run_pbt(settings: PBTSettings, out: Path, address: str | None = None, progress: bool = True) -> PBTRun:
    """Run PBT, store its outcome as a trial of ``out``'s database, and save the discovered
    schedule to ``out/pbt/``. Returns the run; :func:`replay` trains the schedule from scratch."""
    plan = settings.resolved()
    require("ray.tune", "ray", "budgetlr pbt")
    import ray
    import torch
    from ray import tune
    from ray.tune.schedulers import PopulationBasedTraining

    from budgetlr.bench.executors import RAY_SINGLE_MACHINE, connect_ray
    from budgetlr.bench.methods import method
    from budgetlr.bench.store import Store
    from budgetlr.bench.sweep import progress_bar

    workload = resolve_workload(plan.workload)
    steps = budget_steps(workload.full_budget, plan.budget)
    iterations = math.ceil(steps / plan.interval)
    folder = Path(out).resolve() / "pbt"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{workload.name}-b{plan.budget}-s{plan.seed}-n{plan.population}-i{plan.interval}"
    if address is None:
        os.environ.setdefault(RAY_SINGLE_MACHINE, "0")
    connect_ray(address)
    # About one report per member and interval (exploits can add or skip a few).
    bar = progress_bar(plan.population * iterations, progress, "budgetlr pbt", "report")
    try:
        multipliers = tune.loguniform(*MULTIPLIER_RANGE)
        scheduler = PopulationBasedTraining(
            time_attr="training_iteration",
            perturbation_interval=1,
            hyperparam_mutations={"lr_mult": multipliers},
            quantile_fraction=0.25,
            resample_probability=0.25,
            perturbation_factors=(1.2, 0.8),
        )
        tuner = tune.Tuner(
            tune.with_resources(train_member, {"cpu": 1}),
            param_space={
                "workload": plan.workload,
                "budget": plan.budget,
                "seed": plan.seed,
                "base_lr": plan.base_lr,
                "interval": plan.interval,
                "lr_mult": multipliers,
            },
            tune_config=tune.TuneConfig(
                scheduler=scheduler,
                metric="score",
                mode="max",
                num_samples=plan.population,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(folder / "ray"),
                verbose=0,
                callbacks=[progress_callback(bar)],
                checkpoint_config=tune.CheckpointConfig(num_to_keep=4),
            ),
        )
        results = tuner.fit()
    finally:
        bar.close()
        ray.shutdown()
    best = results.get_best_result(metric="score", mode="max", scope="last")
    if best.checkpoint is None:
        raise InvalidInput(f"PBT on {plan.workload} produced no checkpoint: {best.error}")
    with best.checkpoint.as_directory() as checkpoint:
        state = torch.load(Path(checkpoint) / STATE_FILE, weights_only=False)
    lrs = [float(lr) for lr in state["lrs"]]
    test = val = None
    status: Status = "diverged"
    if len(lrs) == steps and math.isfinite(state["curve"][-1][2]):
        member = set_up(plan.workload, plan.budget, method("constant"), plan.base_lr, plan.seed)
        member.model.load_state_dict(state["model"])
        val, test, status = (
            workload.held_out(member.model, "val"),
            workload.held_out(member.model, "test"),
            "ok",
        )
    path = folder / f"{name}.npy"
    np.save(path, np.asarray(lrs) / max(lrs))
    config = TrialConfig(plan.workload, plan.spec, plan.budget, plan.base_lr, plan.seed)
    members = [results[i] for i in range(len(results))]
    wall = float(sum((r.metrics or {}).get("time_total_s", 0.0) for r in members))
    # Every report of every member, not only its last: the time each interval spent training.
    reports = [r.metrics_dataframe for r in members if r.metrics_dataframe is not None]
    training = float(sum(frame["train_seconds"].sum() for frame in reports if "train_seconds" in frame))
    curve = [CurvePoint(step, loss, v, lr) for step, loss, v, lr in state["curve"]]
    result = TrialResult(
        config, steps, status, val and val.metric, test and test.metric, wall,
        steps * plan.population / max(training, 1e-9), curve,
        notes={"population": plan.population, "interval": plan.interval, "discovered": str(path.relative_to(folder.parent))},
        eval_time=max(wall - training, 0.0), val_loss=val and val.loss, test_loss=test and test.loss,
        test_loss_se=test and test.loss_se,
    )  # fmt: skip
    with Store(out) as store:
        store.save(result, workload.metric, workload.higher_is_better)
    return PBTRun(plan, result, lrs, path, [float((r.config or {})["lr_mult"]) for r in members])


def replay_configs(run: PBTRun, seeds: list[int]) -> list[TrialConfig]:
    """The discovered schedule as ordinary trials: peak LR times the recorded multipliers."""
    s = run.settings
    return [TrialConfig(s.workload, run.replay_spec, s.budget, run.peak, seed) for seed in seeds]


def progress_callback(bar: Any) -> Any:
    """A ``ray.tune.Callback`` that advances ``bar`` on every member report."""
    from ray import tune

    class Progress(tune.Callback):
        def on_trial_result(
            self, iteration: int, trials: list, trial: Any, result: dict, **info: Any
        ) -> None:
            bar.update()

    return Progress()
