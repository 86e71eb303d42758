"""Every workload's final evaluation records its held-out loss, checked against a computation
made here from the model's outputs: cross-entropy by torch.nn.functional.cross_entropy, bits per
byte as mean nats / ln 2, the quadratic's excess risk by hand."""

import math
import sqlite3

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from budgetlr.bench.runner import TrialConfig, run_trial
from budgetlr.bench.store import Store
from budgetlr.bench.workloads import resolve_workload


def test_quadratic_test_loss_is_its_exact_excess_risk_and_validation_a_separate_draw():
    workload = resolve_workload("quadratic(kappa=100, dim=3)")  # eigenvalues 1, 0.1, 0.01
    model = workload.build_model()
    with torch.no_grad():
        model.weight.copy_(workload.optimum + torch.tensor([1.0, 2.0, 3.0]))
    expected = 0.5 * (1.0 * 1 + 0.1 * 4 + 0.01 * 9)  # 0.745
    test = workload.held_out(model, "test")
    assert (test.metric, test.loss, test.loss_se) == (pytest.approx(expected, rel=1e-6),) * 2 + (0.0,)
    # Validation: 4,096 draws of (x . e)^2 / 2 with x . e ~ N(0, 1.49), a scaled chi-square whose
    # standard deviation is 1.49 / sqrt(2): its mean's standard error is 1.054 / 64 = 0.0165.
    val = workload.held_out(model, "val")
    assert val.loss_se == pytest.approx(0.0165, rel=0.1)
    assert abs(val.loss - expected) < 3 * val.loss_se and val.loss != test.loss
    assert workload.held_out(model, "val") == val == workload.validate(model)


def test_classifier_loss_is_mean_cross_entropy_with_its_standard_error():
    workload = resolve_workload("digits-cnn")
    torch.manual_seed(0)
    model = workload.build_model()
    x, y = workload.splits()["test"]
    with torch.no_grad():
        logits = model(x)
    per_example = F.cross_entropy(logits, y, reduction="none").numpy().astype(np.float64)
    evaluation = workload.held_out(model, "test")
    assert evaluation.loss == pytest.approx(per_example.mean(), rel=1e-5)
    assert evaluation.loss_se == pytest.approx(per_example.std(ddof=1) / math.sqrt(len(y)), rel=1e-4)
    assert evaluation.metric == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert evaluation.metric == workload.evaluate(model, "test")


def test_gpt_loss_is_bits_per_byte_over_all_held_out_windows(tmp_path):
    corpus = tmp_path / "text.txt"
    corpus.write_text("".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(600)))
    workload = resolve_workload(f"stdlib-gpt(path={corpus}, width=16, layers=1, heads=2, context=16, "
                                "eval_windows=4, held_out_bytes=680)")  # fmt: skip
    torch.manual_seed(0)
    model = workload.build_model()
    windows = workload.data()["test"][: 40 * 17].view(40, 17).long()  # 680 bytes: 40 windows of 17
    with torch.no_grad():
        logits = model(windows[:, :-1])
    nats = F.cross_entropy(logits.reshape(-1, 256), windows[:, 1:].reshape(-1), reduction="none")
    per_window = nats.view(40, 16).double().mean(1).numpy() / math.log(2)
    evaluation = workload.held_out(model, "test")
    assert evaluation.loss == pytest.approx(per_window.mean(), rel=1e-6)
    assert evaluation.metric == evaluation.loss
    assert evaluation.loss_se == pytest.approx(per_window.std(ddof=1) / math.sqrt(40), rel=1e-4)
    # validation during training stays cheap: its first eval_windows windows only
    assert workload.evaluate(model, "test") == pytest.approx(per_window[:4].mean(), rel=1e-6)


def test_built_in_held_out_sets_are_large():
    assert resolve_workload("stdlib-gpt").held_out_windows * 65 >= 256 * 1024


@pytest.mark.slow
def test_mnist1d_holds_out_at_least_4000_test_examples():
    splits = resolve_workload("mnist1d-cnn").splits()
    assert len(splits["test"][1]) >= 4000


def test_a_trial_stores_its_held_out_losses(tmp_path):
    config = TrialConfig("quadratic(dim=4)", "cosine", 0.01, 0.3, 0)  # 20 steps
    result = run_trial(config)
    assert (result.val_loss, result.test_loss) == (result.val_metric, result.test_metric)
    assert result.val_loss == pytest.approx(result.test_loss, rel=0.05) and result.test_loss_se == 0.0
    with Store(tmp_path) as store:
        store.save(result, "excess_risk", False)
        (trial,) = store.trials()
    assert (trial.val_loss, trial.test_loss, trial.test_loss_se) == (result.val_loss, result.test_loss, 0.0)


def test_an_older_database_gains_the_loss_columns_and_reads_them_as_empty(tmp_path):
    config = TrialConfig("quadratic(dim=4)", "cosine", 0.01, 0.3, 0)
    with Store(tmp_path) as store:
        store.save(run_trial(config), "excess_risk", False)
    with sqlite3.connect(tmp_path / "results.db") as connection:
        for column in ("val_loss", "test_loss", "test_loss_se"):
            connection.execute(f"ALTER TABLE trials DROP COLUMN {column}")
    with Store.existing(tmp_path) as store:  # read-only: the columns read as empty
        assert [(t.val_loss, t.test_loss) for t in store.trials()] == [(None, None)]
    with Store(tmp_path) as store:  # a sweep opening it adds them
        assert [(t.val_loss, t.test_loss) for t in store.trials()] == [(None, None)]
    with sqlite3.connect(tmp_path / "results.db") as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(trials)")}
    assert {"val_loss", "test_loss", "test_loss_se"} <= columns
