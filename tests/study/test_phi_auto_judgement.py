"""phi=auto judged leave-one-workload-out against the fixed phi chosen on the other workloads,
on synthetic trials with a planted answer."""

import math
import subprocess
import sys
from dataclasses import replace

import numpy as np

from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult
from budgetlr.bench.store import Store, Trial
from budgetlr.study.analysis import cells
from budgetlr.study.pages import page_text
from budgetlr.study.phis import judge_phi_auto, phi_groups
from budgetlr.study.verdicts import phi_auto_out_of_sample

AUTO, HALF, ONE, COSINE = (
    "uba(phi=auto, warmup=0.05)",
    "uba(phi=0.5, warmup=0.05)",
    "uba(warmup=0.05)",
    "cosine(warmup=0.05)",
)


def synthetic(auto_ratio):
    """phi = 0.5 is best everywhere (phi = 1 is 2% worse, cosine 5%); auto's loss is auto_ratio x phi = 0.5's."""
    rng = np.random.default_rng(7)
    trials = []
    for workload in ("a", "b", "c"):
        for budget in (0.1, 0.5):
            for seed in range(6):
                base = math.exp(rng.normal(0, 0.05))
                for schedule, ratio in ((HALF, 1.0), (ONE, 1.02), (COSINE, 1.05), (AUTO, auto_ratio)):
                    loss = base * ratio * math.exp(rng.normal(0, 0.003))
                    trials.append(
                        Trial(
                            f"{workload}{schedule}{budget}{seed}",
                            "0",
                            2,
                            workload,
                            schedule,
                            budget,
                            0.1,
                            seed,
                            100,
                            "ok",
                            "accuracy",
                            True,
                            0.9,
                            0.9,
                            1.0,
                            100.0,
                            "",
                            val_loss=loss,
                            test_loss=loss,
                        )
                    )
    return cells(trials)


def test_phi_auto_that_trails_the_best_fixed_phi_is_said_not_to_beat_it():
    measured = synthetic(1.03)
    assert phi_groups(measured) == (AUTO, {HALF: 0.5, ONE: 1.0, COSINE: 2.0})
    judgement = judge_phi_auto(measured, *phi_groups(measured))
    assert set(judgement.picks.values()) == {HALF}  # chosen without the held-out workload
    assert not judgement.beats_fixed and judgement.against_fixed.percent().covers(3.0)
    assert "phi=auto does not beat the best fixed phi out of sample: " in judgement.explain()
    text = page_text(phi_auto_out_of_sample(measured, str, {}))
    assert "does not beat the best fixed phi out of sample" in text and "Read it with care" not in text


def test_the_page_says_when_phi_auto_chose_a_phi_outside_the_fixed_phis_it_is_compared_with():
    measured = synthetic(0.97)
    keys = [key for c in measured if c.schedule == AUTO for key in c.keys]
    # two trials chose 1/4, below the fixed 0.5 to 2; one chose 8, above; the others 1 (inside)
    notes = {key: {"phi": 1.0} for key in keys} | {
        keys[0]: {"phi": 0.25},
        keys[1]: {"phi": 0.25},
        keys[2]: {"phi": 8.0},
    }
    text = page_text(phi_auto_out_of_sample(measured, str, notes))
    assert f"in 3 of the {len(keys)} tuned phi=auto trials" in text
    assert "(0.25 (2), 8 (1) trials)" in text


def test_phi_auto_that_leads_is_said_to_beat_it():
    judgement = judge_phi_auto(synthetic(0.97), AUTO, {HALF: 0.5, ONE: 1.0, COSINE: 2.0})
    assert judgement.beats_fixed and judgement.against_fixed.percent().covers(-3.0)


def test_a_workload_without_phi_auto_does_not_narrow_its_rivals():
    """A language model that ran cosine, phi = 0.5 and phi = 1 but neither auto nor phi = 4 (the
    study's): phi = 4 stays a rival where it is best."""
    phi4 = "uba(phi=4.0, warmup=0.05)"
    measured = synthetic(1.0)
    measured += [
        replace(c, schedule=phi4, test=[x * 0.9 for x in c.test]) for c in measured if c.schedule == HALF
    ]
    measured += [
        replace(c, workload="lm") for c in measured if c.workload == "a" and c.schedule in (HALF, ONE, COSINE)
    ]
    judgement = judge_phi_auto(measured, *phi_groups(measured))
    assert set(judgement.picks.values()) == {phi4} and "lm" not in {w for w, _ in judgement.picks}


def test_suggest_phi_with_a_database_without_losses_says_so_in_one_line(tmp_path):
    with Store(tmp_path) as store:
        config = TrialConfig("quadratic", AUTO, 0.05, 0.1, 0)
        store.save(
            TrialResult(config, 100, "ok", 0.5, 0.5, 1.0, 100.0, [CurvePoint(100, 0.5, 0.5, 0.1)]), "x", False
        )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "budgetlr",
            "suggest-phi",
            "--workload",
            "quadratic(dim=4)",
            "--budget-fraction",
            "0.1",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "holds no out-of-sample test of phi=auto" in lines[-2] and lines[-1].startswith("uba(phi=")
