"""Refinement end to end: recorded gradient norms, the benchmark's refined trials, budgetlr refine."""

import subprocess

import numpy as np
import pytest
import torch

from budgetlr.bench.executors import Execution
from budgetlr.bench.methods import REFINE_SOURCE
from budgetlr.bench.runner import TrialConfig, run_trial
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import make_plan, run_sweep
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules import refine, schedule
from budgetlr.torch import BudgetScheduler
from tests.helpers import BUDGETLR


@pytest.mark.slow
def test_every_step_records_the_gradient_norm_refinement_uses():
    sgd = run_trial(TrialConfig("quadratic", "linear", 0.02, 0.03, 0))
    assert set(sgd.grad_norms) == {"l2"} and len(sgd.grad_norms["l2"]) == sgd.steps == 40
    adamw = run_trial(TrialConfig("mnist1d-cnn", "linear", 0.01, 0.01, 0))
    assert set(adamw.grad_norms) == {"l1"} and len(adamw.grad_norms["l1"]) == adamw.steps == 12
    # |g|_1 >= |g|_2 > 0 for every gradient: against the l2 norm torch computes for the first step.
    workload = resolve_workload("mnist1d-cnn")
    workload.prepare()
    torch.manual_seed(0)
    model = workload.build_model()
    workload.loss(model, next(workload.batches(torch.Generator().manual_seed(0)))).backward()
    grads = [p.grad for p in model.parameters()]
    assert adamw.grad_norms["l1"][0] == pytest.approx(
        float(torch.nn.utils.get_total_norm(grads, 1.0)), rel=1e-6
    )
    assert adamw.grad_norms["l1"][0] > float(torch.nn.utils.get_total_norm(grads, 2.0)) > 0


def test_the_first_recorded_norm_is_the_initial_gradient_norm():
    result = run_trial(TrialConfig("quadratic", "linear", 0.02, 0.03, 0))
    workload = resolve_workload("quadratic")
    torch.manual_seed(0)
    model = workload.build_model()
    workload.loss(model, next(workload.batches(torch.Generator().manual_seed(0)))).backward()
    assert result.grad_norms["l2"][0] == pytest.approx(float(model.weight.grad.norm()), rel=1e-6)


@pytest.fixture(scope="module")
def refined_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("refined")
    plan = make_plan(["quadratic"], ["refined(smoothing=0.2)", "cosine"], [0.02], [0], lrs=[0.03])
    summary = run_sweep(plan, out, Execution(workers=1, progress=False))
    return out, summary


@pytest.mark.slow
def test_a_refined_trial_refines_its_linear_source_run_which_the_sweep_adds(refined_sweep):
    out, summary = refined_sweep
    assert summary.planned == 3 and summary.ran == 3  # the linear source joined the plan
    with Store(out) as store:
        trials = {t.schedule: t for t in store.trials()}
        source = trials[str(schedule(REFINE_SOURCE, 40).spec)]
        norms = store.grad_norms(source.key, "l2")
        curve = store.curve(trials["refined(smoothing=0.2)"].key)
    expected = 0.03 * np.interp(np.arange(40) / 40, np.linspace(0, 1, 40), refine(norms, "sgd", 0.2))
    # a point per step, each with the LR of its last step (of the first at the step-0 validation)
    assert len(norms) == 40 and [p.lr for p in curve] == pytest.approx(
        [expected[max(p.step, 1) - 1] for p in curve], rel=1e-9
    )
    assert trials["refined(smoothing=0.2)"].status == "ok"


@pytest.mark.slow
def test_budgetlr_refine_writes_an_array_schedule_that_replays_the_refinement(refined_sweep):
    out, _ = refined_sweep
    with Store(out) as store:
        source = next(t for t in store.trials() if t.schedule.startswith("linear"))
        norms = store.grad_norms(source.key, "l2")
    done = subprocess.run(
        [BUDGETLR, "refine", "--out", str(out), "--trial", source.key[:8]], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    spec = done.stdout.strip().splitlines()[-1]
    written = np.load(out / "refined" / f"{source.key}.npy")
    assert spec == str(schedule({"name": "array", "values": written.tolist()}, 40)) and "file=" not in spec
    assert (out / "refined" / f"{source.key}.png").stat().st_size > 0
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    scheduler = BudgetScheduler(optimizer, spec, total_steps=40)
    lrs = []
    for _ in range(40):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    refined = schedule(f"refined(norms={norms.tolist()})", 40)
    assert lrs == pytest.approx(refined.lr(np.arange(40), 0.3), rel=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--trial", "zzzz"], "no stored trial has a key starting with 'zzzz'"),
        (["--trial", ""], "argument --trial: must not be empty"),
        (["--trial", "a", "--smoothing", "1.5"], "--smoothing must lie in [0, 1)"),
    ],
)
def test_budgetlr_refine_rejects_bad_input_in_one_line(refined_sweep, arguments, message):
    out, _ = refined_sweep
    done = subprocess.run([BUDGETLR, "refine", "--out", str(out), *arguments], capture_output=True, text=True)
    assert done.returncode == 2 and message in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_only_linear_decay_trials_record_norms_and_refining_another_says_why(refined_sweep):
    out, _ = refined_sweep
    with Store(out) as store:
        trials = {t.schedule.partition("(")[0]: t for t in store.trials()}
        recorded = {name: store.grad_norms(t.key, "l2") is not None for name, t in trials.items()}
    assert recorded == {"linear": True, "refined": False, "cosine": False}
    done = subprocess.run(
        [BUDGETLR, "refine", "--out", str(out), "--trial", trials["cosine"].key],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "has no recorded l2 gradient norms: budgetlr records them for linear-decay trials" in done.stderr


@pytest.mark.slow
def test_budgetlr_refine_without_a_database_says_so(tmp_path):
    done = subprocess.run(
        [BUDGETLR, "refine", "--out", str(tmp_path), "--trial", "ab"], capture_output=True, text=True
    )
    assert done.returncode == 2 and "no results database" in done.stderr
