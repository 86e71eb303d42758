"""Sweeps: plans, resuming after kill -9, divergence, the Ray executor on a real local head."""

import os
import signal
import sqlite3
import subprocess
import time
from contextlib import closing
from pathlib import Path

import psutil
import pytest

from budgetlr.bench.executors import Execution
from budgetlr.bench.store import Store
from budgetlr.bench.sweep import make_plan, run_sweep
from budgetlr.cli.arguments import number_list
from tests.bench.gated_workload import GATE, PASSES, tickets_taken
from tests.helpers import BUDGETLR, GATED, command_env, count_stored, start_and_stop, wait_until


def tiny_plan(**overrides):
    args = dict(
        workloads=["quadratic(dim=8)"],
        schedules=["cosine", "linear(warmup=0.1)"],
        budgets=[0.05, 0.1],
        seeds=[0, 1],
        lrs=[0.1, 0.3],
    )
    return make_plan(**{**args, **overrides})


def stored(out):
    with closing(sqlite3.connect(Path(out) / "results.db")) as connection:
        return connection.execute("SELECT key, status FROM trials").fetchall()


def test_plan_is_the_full_cross_product_in_canonical_form():
    plan = tiny_plan(schedules=["cosine", "uba( phi = 0.5 )"])
    assert plan.schedules == ("cosine", "uba(phi=0.5)")
    trials = plan.trials()
    assert len(trials) == 1 * 2 * 2 * 2 * 2
    assert len({t.key() for t in trials}) == len(trials)
    assert [t.budget for t in trials] == sorted((t.budget for t in trials), reverse=True)
    assert make_plan(["quadratic"], ["cosine"], [1.0], [0]).lrs == {"quadratic": (0.01, 0.03, 0.1)}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"workloads": ["nope"]}, "unknown workload 'nope'"),
        ({"budgets": [0.0]}, r"budget 0.0 must be a fraction of the full budget in \(0, 1\]"),
        ({"budgets": [1.5]}, r"budget 1.5 must be"),
        ({"lrs": [-1.0]}, "peak LR -1.0 must be a positive number"),
        ({"seeds": [-1]}, r"seed -1 must be a whole number in \[0, 9223372036854775807\]"),
        (
            {"schedules": ["wsd(decay_steps=500)"]},
            r"wsd\(decay_steps=500\) at budget 0.05 of quadratic\(dim=8\) \(100 steps\)",
        ),
        ({"schedules": ["cosine(phi=1)"]}, "cosine has no key 'phi'"),
    ],
)
def test_bad_plans_name_the_problem(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_plan(**overrides)


def test_number_list():
    assert number_list("0.1, 0.25,1", float, "budget") == [0.1, 0.25, 1.0]
    with pytest.raises(ValueError, match=r"malformed budget list '0\.1,,0\.5'"):
        number_list("0.1,,0.5", float, "budget")


@pytest.mark.slow
def test_a_sweep_stores_every_trial_once_and_a_rerun_runs_nothing(tmp_path):
    plan = tiny_plan()
    first = run_sweep(plan, tmp_path, Execution(workers=2, progress=False))
    assert (first.planned, first.already_stored, first.ran) == (16, 0, 16)
    rows = stored(tmp_path)
    assert sorted(k for k, _ in rows) == sorted(t.key() for t in plan.trials())
    again = run_sweep(plan, tmp_path, Execution(workers=2, progress=False))
    assert (again.already_stored, again.ran) == (16, 0)
    with Store(tmp_path) as store:
        curve = store.curve(plan.trials()[0].key())
    # 200 steps: the first step's loss, then windows of 2 steps; a validation every 10 steps
    assert [p.step for p in curve if p.train_loss is not None] == [1, *range(2, 201, 2)]
    assert [p.step for p in curve if p.val_loss is not None] == list(range(0, 201, 10))


@pytest.mark.slow
def test_a_diverging_configuration_is_recorded_and_the_sweep_completes(tmp_path):
    summary = run_sweep(tiny_plan(lrs=[0.3, 50.0]), tmp_path, Execution(workers=2, progress=False))
    assert summary.ran == 16 and summary.diverged == 8
    with Store(tmp_path) as store:
        trials = store.trials()
    assert {(t.lr, t.status) for t in trials} == {(0.3, "ok"), (50.0, "diverged")}
    assert all(t.test_metric is None for t in trials if t.status == "diverged")


@pytest.mark.slow
def test_a_sweep_killed_mid_run_resumes_with_every_trial_exactly_once(tmp_path):
    out = tmp_path / "out"
    args = [BUDGETLR, "bench", "--workload", GATED, "--schedules", "cosine,linear,constant",
            "--budgets", "0.25,0.5", "--lrs", "0.1,0.2,0.3", "--seeds", "0,1,2", "--workers", "2",
            "--out", str(out), "--no-report", "--quiet"]  # fmt: skip
    start_and_stop(args, out, 6, signal.SIGKILL, tmp_path / "gate").communicate()
    assert len(stored(out)) == 6  # the gate let 6 through; two more trials were mid-run
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600, env=command_env())
    assert rerun.returncode == 0, rerun.stderr
    assert "54 trials planned: 6 already stored, 48 run now" in rerun.stdout
    keys = [k for k, _ in stored(out)]
    assert len(keys) == len(set(keys)) == 54
    with closing(sqlite3.connect(out / "results.db")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        orphans = connection.execute(
            "SELECT count(*) FROM series WHERE key NOT IN (SELECT key FROM trials)"
        ).fetchone()
        assert orphans == (0,)


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_with_exit_130_and_a_rerun_completes_it(tmp_path):
    out = tmp_path / "out"
    args = [BUDGETLR, "bench", "--workload", GATED, "--schedules", "cosine,linear",
            "--budgets", "0.5,1.0", "--lrs", "0.1,0.3", "--seeds", "0,1,2", "--workers", "2",
            "--out", str(out), "--no-report", "--quiet"]  # fmt: skip
    # Ctrl-C in a terminal: the whole group
    process = start_and_stop(args, out, 3, signal.SIGINT, tmp_path / "gate")
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert err.strip().splitlines()[-1] == (
        "budgetlr: interrupted; finished trials are stored: rerun the same command to resume"
    )
    assert len(stored(out)) == 3
    assert log_is_empty(out), "an interrupted sweep moves its log into the database"
    rerun = subprocess.run(args, capture_output=True, text=True, timeout=600, env=command_env())
    assert rerun.returncode == 0, rerun.stderr
    assert "24 trials planned: 3 already stored, 21 run now" in rerun.stdout


def log_is_empty(out: Path) -> bool:
    log = out / "results.db-wal"
    return not log.exists() or log.stat().st_size == 0


@pytest.mark.slow
def test_sigterm_stops_a_sweep_as_ctrl_c_does(tmp_path):
    out = tmp_path / "out"
    args = [BUDGETLR, "bench", "--workload", GATED, "--schedules", "cosine", "--budgets", "0.5",
            "--lrs", "0.1,0.3", "--seeds", "0,1", "--workers", "1", "--out", str(out), "--no-report", "--quiet"]  # fmt: skip
    process = start_and_stop(args, out, 1, signal.SIGTERM, tmp_path / "gate")  # a scheduler ending a job
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert len(stored(out)) == 1 and log_is_empty(out)
    with closing(sqlite3.connect(out / "results.db")) as connection:
        assert connection.execute("SELECT count(*) FROM claims").fetchone() == (0,)


@pytest.mark.slow
def test_the_ray_executor_on_a_local_cluster_matches_the_local_executor(ray_head, tmp_path):
    plan = tiny_plan(budgets=[0.05])
    summary = run_sweep(plan, tmp_path / "ray", Execution("ray", address=ray_head, progress=False))
    assert summary.ran == 8
    run_sweep(plan, tmp_path / "local", Execution(workers=2, progress=False))
    with Store(tmp_path / "ray") as on_ray, Store(tmp_path / "local") as local:
        by_key = {t.key: t for t in local.trials()}
        for trial in on_ray.trials():
            assert trial.test_metric == by_key[trial.key].test_metric


CONCURRENT = ["bench", "--workload", "quadratic(dim=8)", "--schedules", "cosine,linear", "--budgets", "0.25",
              "--lrs", "0.1,0.2,0.3", "--seeds", "0,1", "--workers", "1", "--no-report", "--quiet"]  # fmt: skip


def ran_now(stdout: str) -> int:
    return int(stdout.split(" run now")[0].rsplit(" ", 1)[1])


@pytest.mark.slow
def test_two_concurrent_sweeps_on_one_folder_share_the_trials_and_run_each_once(tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    args = [BUDGETLR, *CONCURRENT, "--out", str(tmp_path / "out")]
    args[args.index("quadratic(dim=8)")] = GATED
    # Every trial waits at the gate: a sweep with one worker claims one trial and waits with it,
    # so the second ticket is the other sweep's. A sweep that claimed every trial would starve it.
    env = command_env(**{GATE: str(gate), PASSES: "0"})
    sweeps = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for _ in range(2)
    ]
    wait_until(lambda: tickets_taken(gate) >= 2, sweeps[0], "both sweeps running a trial")
    (gate / "open").touch()
    outputs = [p.communicate(timeout=300) for p in sweeps]
    assert [p.returncode for p in sweeps] == [0, 0], outputs
    ran = [ran_now(out) for out, _ in outputs]
    assert sum(ran) == 12 and min(ran) >= 1, ran
    assert len(stored(tmp_path / "out")) == 12
    assert all(f"{12 - ran_now(out)} run by another sweep" in out for out, _ in outputs)


@pytest.mark.slow
def test_a_sweep_killed_while_another_waits_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETLR_LEASE_SECONDS", "3")
    args = [BUDGETLR, *CONCURRENT, "--out", str(tmp_path)]
    first = subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and count_stored(tmp_path) < 1:
        time.sleep(0.2)
    # the second starts while the first holds the claims; then the first dies with its workers
    second = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    os.killpg(first.pid, signal.SIGKILL)
    first.communicate()
    _, err = second.communicate(timeout=300)
    assert second.returncode == 0, err
    keys = [k for k, _ in stored(tmp_path)]
    assert len(keys) == len(set(keys)) == 12
    with closing(sqlite3.connect(tmp_path / "results.db")) as connection:
        assert connection.execute("SELECT count(*) FROM claims").fetchone() == (0,)


@pytest.mark.slow
def test_workers_stop_when_their_parent_is_killed(tmp_path):
    out, gate = tmp_path / "out", tmp_path / "gate"
    gate.mkdir()
    args = [BUDGETLR, "bench", "--workload", GATED, "--schedules", "cosine", "--budgets", "1.0",
            "--lrs", "0.1", "--seeds", "0,1", "--workers", "2", "--no-report", "--quiet", "--out", str(out)]  # fmt: skip
    # no pipes: reading them to their end would wait for the workers, which hold them too
    parent = subprocess.Popen(
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=command_env(**{GATE: str(gate), PASSES: "0"}),
    )
    # Both trials wait at a gate that never opens: a worker can end only by seeing its parent gone.
    wait_until(lambda: tickets_taken(gate) == 2, parent, "two trials started")
    workers = [w for w in psutil.Process(parent.pid).children() if "spawn_main" in " ".join(w.cmdline())]
    assert len(workers) == 2
    parent.kill()  # the parent alone, not its process group
    parent.wait()
    _, alive = psutil.wait_procs(workers, timeout=120)
    for worker in alive:
        worker.kill()
    assert not alive, "workers outlived their parent"
    assert count_stored(out) == 0
