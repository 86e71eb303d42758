"""budgetlr recommend on a synthetic database whose answer is known: uba's loss is 5% below
cosine's at every budget, and the tuned LR follows lr*(T) = 0.3 T^-0.5 exactly."""

import math
import subprocess
import sys

import numpy as np
import pytest

from budgetlr.bench.runner import CurvePoint, TrialConfig, TrialResult
from budgetlr.bench.store import Store
from budgetlr.study.recommend import peak_lr

WORKLOADS = ("quadratic", "quadratic(dim=8)")
SCHEDULES = {"cosine(warmup=0.05)": 1.0, "uba(warmup=0.05)": 0.95}
LRS = (0.1, 0.3, 1.0, 3.0, 10.0)


def loss(workload, schedule, budget, lr, seed, rng):
    best_lr = 0.3 * budget**-0.5  # inside the grid at every budget
    scale = 1.0 if workload == "quadratic" else 2.0
    return scale * SCHEDULES[schedule] * (1 + math.log(lr / best_lr) ** 2) * math.exp(rng.normal(0, 0.002))


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(0)
    with Store(out) as store:
        for workload in WORKLOADS:
            for schedule in SCHEDULES:
                for budget in (0.1, 0.25, 0.5, 1.0):
                    for lr in LRS:
                        for seed in range(4):
                            value = loss(workload, schedule, budget, lr, seed, rng)
                            config = TrialConfig(workload, schedule, budget, lr, seed)
                            result = TrialResult(
                                config, 100, "ok", value, value, 1.0, 100.0, [CurvePoint(100, value, value, lr)],
                                val_loss=value, test_loss=value, test_loss_se=0.0,
                            )  # fmt: skip
                            store.save(result, "excess_risk", False)
        trials = store.trials()
    return out, trials


def budgetlr(*args):
    return subprocess.run(
        [sys.executable, "-m", "budgetlr", *args], capture_output=True, text=True, check=False
    )


def test_peak_lr_follows_the_planted_power_law(database):
    _, trials = database
    result = peak_lr(trials, "quadratic", "uba(warmup=0.05)", 0.25)
    assert result.law.b == pytest.approx(-0.5, abs=0.02)
    assert result.lr == pytest.approx(0.6, rel=0.03)  # 0.3 * 0.25^-0.5
    assert result.exponent is not None and result.exponent.covers(-0.5)


@pytest.mark.slow
def test_budgetlr_recommend_prints_schedule_confidence_and_peak_lr(database):
    out, _ = database
    done = budgetlr("recommend", "--budget-fraction", "0.25", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "use uba(warmup=0.05)" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("held-out loss of uba"))
    low, high = (float(x.strip("%")) for x in line.split("[")[1].rstrip("]").split(", "))
    assert low <= -5.0 <= high < 0
    assert "confidence: high" in done.stdout
    done = budgetlr("recommend", "--budget-fraction", "0.25", "--workload", "quadratic", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "peak LR for uba(warmup=0.05) on quadratic at budget 0.25: 0.6" in done.stdout
    done = budgetlr("recommend", "--budget-fraction", "0.25", "--workload", "nope", "--out", str(out))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_with_a_suite_recommend_reads_the_database_as_its_page_does(database):
    """The fair suite reports its quadratics apart, as convex controls: its page's recommendations
    leave them out, and so does ``recommend --suite fair``, unless asked for one of them."""
    out, _ = database
    done = budgetlr("recommend", "--budget-fraction", "0.25", "--suite", "fair", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("budget fraction 0.25, over 1 workload(s): quadratic(dim=8)\n")
    done = budgetlr("recommend", "--budget-fraction", "0.25", "--suite", "fair", "--workload", "quadratic", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("budget fraction 0.25, over 1 workload(s): quadratic\n")
