"""Population based training on a real local Ray: the discovered schedule is stored and replays."""

import subprocess

import numpy as np
import pytest

from budgetlr.bench.store import Store
from budgetlr.schedules import schedule
from budgetlr.study.pbt import PBTSettings
from tests.helpers import BUDGETLR


def test_pbt_settings_resolve_defaults_and_reject_bad_input():
    settings = PBTSettings("quadratic", 0.25).resolved()
    assert (settings.interval, settings.base_lr, settings.population) == (50, 0.03, 8)
    assert settings.spec == "pbt(population=8, interval_steps=50)"
    for bad, message in [
        (PBTSettings("quadratic", 1.5), "budget 1.5"),
        (PBTSettings("quadratic", 0.1, population=1), "population must be >= 2"),
        (PBTSettings("quadratic", 0.1, interval=0), "interval must lie in [1, 200]"),
        (PBTSettings("quadratic", 0.1, base_lr=-1.0), "base LR must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("(", r"\(")):
            bad.resolved()


@pytest.mark.slow
def test_budgetlr_pbt_discovers_stores_and_replays_a_schedule(ray_head, tmp_path):
    command = [BUDGETLR, "pbt", "--workload", "quadratic", "--budget-fraction", "0.02", "--population", "2",
               "--interval", "10", "--replay-seeds", "0,1", "--out", str(tmp_path), "--address", ray_head,
               "--quiet"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (
        "PBT pbt(population=2, interval_steps=10) on quadratic at budget 0.02: best member ok" in done.stdout
    )
    files = list((tmp_path / "pbt").glob("*.npy"))
    assert len(files) == 1
    multipliers = np.load(files[0])
    assert multipliers.shape == (40,) and multipliers.max() == 1.0
    # Constant within each interval of 10 steps: PBT changes the LR only between intervals.
    assert all(np.unique(multipliers[i : i + 10]).size == 1 for i in range(0, 40, 10))
    with Store(tmp_path) as store:
        trials = {(t.schedule, t.seed): t for t in store.trials()}
        pbt = trials[("pbt(population=2, interval_steps=10)", 0)]
        assert pbt.status == "ok" and pbt.lr == 0.03 and pbt.steps == 40
        notes = store.notes(pbt.key)
        # the replays' spec holds the multipliers themselves, and the note a path relative to the folder
        replay_spec = str(schedule({"name": "array", "values": multipliers.tolist()}, 40))
        assert "file=" not in replay_spec
        assert notes["discovered"] == f"pbt/{files[0].name}"
        replays = [trials[(replay_spec, seed)] for seed in (0, 1)]
        lrs = [p.lr for p in store.curve(replays[0].key)]
    assert all(r.status == "ok" for r in replays)
    peak = replays[0].lr
    assert lrs[-1] == pytest.approx(peak * multipliers[-1], rel=1e-12)
    assert schedule(replay_spec, 40).lr(np.arange(40), peak) == pytest.approx(peak * multipliers, rel=1e-12)
    assert replay_spec in done.stdout and "test loss" in done.stdout
