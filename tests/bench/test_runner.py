"""One trial: determinism, budgets, divergence, and every built-in workload for a few steps."""

import math
import os
import pickle

import numpy as np
import pytest
import torch

from budgetlr.bench.runner import TrialConfig, budget_steps, run_trial
from budgetlr.bench.workloads import BUILT_IN, resolve_workload
from budgetlr.bench.workloads.cifar import augment, load_cifar10
from budgetlr.schedules import schedule


def stable(result):
    return (result.steps, result.status, result.val_metric, result.test_metric, result.curve)


@pytest.mark.slow
def test_same_configuration_same_result():
    config = TrialConfig("quadratic", "uba(phi=0.5, warmup=0.05)", 0.25, 0.03, 7)
    assert stable(run_trial(config)) == stable(run_trial(config))
    other_seed = run_trial(TrialConfig("quadratic", "uba(phi=0.5, warmup=0.05)", 0.25, 0.03, 8))
    assert other_seed.val_metric != run_trial(config).val_metric


@pytest.mark.slow
def test_trial_trains_round_fraction_of_the_full_budget_under_the_schedule():
    config = TrialConfig("quadratic", "cosine(warmup=0.1)", 0.25, 0.05, 0)
    result = run_trial(config)
    assert result.steps == budget_steps(2000, 0.25) == 500
    # 500 steps: training-loss windows of 500 // 100 = 5 steps after the first step's own point;
    # a validation every 500 // 20 = 25 steps, the first before training.
    trained = [p.step for p in result.curve if p.train_loss is not None]
    validated = [p.step for p in result.curve if p.val_loss is not None]
    assert (trained, validated) == ([1, *range(5, 501, 5)], list(range(0, 501, 25)))
    lrs = schedule("cosine(warmup=0.1)", 500).lr(np.arange(500), 0.05)
    assert [p.lr for p in result.curve] == pytest.approx(
        [lrs[max(p.step, 1) - 1] for p in result.curve], rel=1e-12
    )
    assert (result.curve[-1].val_metric, result.curve[-1].val_loss) == (result.val_metric, result.val_loss)
    assert 0 < result.test_metric < result.curve[0].val_metric
    assert result.val_metric == pytest.approx(result.test_metric, rel=0.05)
    # The first point is the loss of the first batch at the initial weights, computed here by hand.
    workload = resolve_workload("quadratic")
    _, y = next(workload.batches(torch.Generator().manual_seed(0)))  # w = 0: the prediction is 0
    assert result.curve[1].train_loss == pytest.approx(float(0.5 * (y**2).mean()), rel=1e-6)
    assert result.wall_time > 0 and result.steps_per_second > 0


def test_a_non_finite_loss_ends_the_trial_as_diverged():
    result = run_trial(TrialConfig("quadratic", "constant", 1.0, 50.0, 0))
    assert result.status == "diverged"
    assert result.val_metric is None and result.test_metric is None
    assert result.steps < 2000 and math.isinf(result.curve[-1].train_loss)


def test_budget_steps_rounds_halves_up_and_keeps_one_step():
    assert [budget_steps(1200, f) for f in (0.1, 0.25, 0.5, 1.0)] == [120, 300, 600, 1200]
    assert budget_steps(10, 0.05) == 1 and budget_steps(10, 0.01) == 1


SMALL = {
    "quadratic": "quadratic(kappa=1000.0, noise=0.1, dim=8)",
    "mnist1d-cnn": "mnist1d-cnn(samples=1000, width=8)",
    "digits-cnn": "digits-cnn",
    "stdlib-gpt": "stdlib-gpt(width=16, layers=1, heads=2, context=16, train_bytes=100000, eval_windows=8)",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SMALL)
def test_cpu_workloads_train_a_few_steps(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    workload = resolve_workload(SMALL[name])
    fraction = 12 / workload.full_budget
    result = run_trial(TrialConfig(SMALL[name], "linear(warmup_steps=2)", fraction, workload.lrs[1], 0))
    assert result.status == "ok" and result.steps == 12
    assert all(math.isfinite(p.train_loss) for p in result.curve if p.train_loss is not None)
    if workload.higher_is_better:
        assert 0 <= result.test_metric <= 1
    else:
        assert result.test_metric > 0
    assert os.listdir(tmp_path) == []  # nothing written to the working folder (mnist1d's helper would)


def test_every_built_in_workload_declares_what_the_benchmark_needs():
    for name, cls in BUILT_IN.items():
        assert cls.name == name and cls.full_budget > 0 and cls.lrs
        assert cls.metric and cls.optimizer in ("sgd", "adamw") and cls.description


@pytest.mark.slow
def test_text_gpt_smoke_on_a_local_corpus(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(
        "".join(f"line {i}: the quick brown fox jumps over the lazy dog\n" for i in range(2000))
    )
    spec = f"text-gpt(path={corpus}, width=16, layers=1, heads=2, context=16, eval_windows=4)"
    result = run_trial(TrialConfig(spec, "wsd(decay=0.5)", 4 / 5000, 1e-3, 0))
    assert result.status == "ok" and result.steps == 4 and 0 < result.test_metric < 9


def write_cifar_batch(path, images, seed):
    rng = np.random.default_rng(seed)
    batch = {
        b"data": rng.integers(0, 256, (images, 3072), dtype=np.uint8),
        b"labels": rng.integers(0, 10, images).tolist(),
    }
    with path.open("wb") as handle:
        pickle.dump(batch, handle)


def test_cifar_loader_reads_python_batches_and_holds_out_a_tenth(tmp_path):
    for i in (1, 2):
        write_cifar_batch(tmp_path / f"data_batch_{i}", 20, i)
    write_cifar_batch(tmp_path / "test_batch", 10, 9)
    splits = load_cifar10(str(tmp_path))
    assert {k: tuple(v[0].shape) for k, v in splits.items()} == {
        "train": (36, 3, 32, 32),
        "val": (4, 3, 32, 32),
        "test": (10, 3, 32, 32),
    }
    with (tmp_path / "data_batch_1").open("rb") as handle:
        first = pickle.load(handle)
    assert np.array_equal(splits["train"][0][0].numpy().reshape(-1), first[b"data"][0])
    assert splits["train"][1][:20].tolist() == first[b"labels"]


@pytest.mark.slow
def test_cifar_resnet_smoke_and_augmentation(tmp_path):
    write_cifar_batch(tmp_path / "data_batch_1", 24, 1)
    write_cifar_batch(tmp_path / "test_batch", 8, 2)
    result = run_trial(TrialConfig(f"cifar-resnet(data_dir={tmp_path})", "cosine", 3 / 15600, 0.05, 0))
    assert result.status == "ok" and result.steps == 3 and 0 <= result.test_metric <= 1
    import torch

    images = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).view(2, 3, 32, 32)
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    assert not torch.equal(out, images)


def test_cifar_without_data_names_the_folder(tmp_path):
    with pytest.raises(ValueError, match=f"no CIFAR-10 python batches .* in folder '{tmp_path}'"):
        run_trial(TrialConfig(f"cifar-resnet(data_dir={tmp_path})", "cosine", 0.001, 0.1, 0))


def test_third_party_workload_by_module_and_attribute():
    result = run_trial(TrialConfig("tests.bench.custom_workload:Blobs", "cosine", 1.0, 0.1, 0))
    assert result.status == "ok" and result.steps == 100 and result.test_metric > 0.6
    assert resolve_workload("tests.bench.custom_workload:make_blobs(centres=5)").centres == 5
    with pytest.raises(ValueError, match=r"cannot load workload 'tests\.bench\.nothing:X'"):
        resolve_workload("tests.bench.nothing:X")


def test_third_party_workload_by_entry_point(monkeypatch):
    from importlib.metadata import EntryPoint

    import budgetlr.bench.workloads as workloads

    entry = EntryPoint("blobs", "tests.bench.custom_workload:Blobs", workloads.ENTRY_POINT_GROUP)
    monkeypatch.setattr(
        workloads, "entry_points", lambda group: [entry] if group == workloads.ENTRY_POINT_GROUP else []
    )
    workloads.registered_name.cache_clear()  # the registry changed
    try:
        assert "blobs" in workloads.available()
        assert resolve_workload("blobs(centres=2)").centres == 2
        assert str(resolve_workload("tests.bench.custom_workload:Blobs(centres=2)")) == "blobs(centres=2)"
    finally:
        workloads.registered_name.cache_clear()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("imagenet", r"unknown workload 'imagenet'; valid workloads: quadratic, mnist1d-cnn"),
        ("quadratic(kappa=0.5)", r"quadratic: kappa must be in \[1, 1e\+12\] \(its bound\), got 0.5"),
        ("quadratic(dim=1e9)", r"quadratic: dim must be in \[1, 100000\] \(its bound\), got 1e\+09"),
        ("mnist1d-cnn(samples=1e12)", r"mnist1d-cnn: samples must be in \[100, 1e\+06\]"),
        ("stdlib-gpt(layers=1000)", r"stdlib-gpt: layers must be in \[1, 48\]"),
        ("text-gpt(train_bytes=1e12)", r"text-gpt: train_bytes must be in \[1024, 1e\+09\]"),
        (":", r"workload ':' must be module:attr, e.g. mypackage.blobs:Blobs"),
        ("os.path:", r"workload 'os.path:' must be module:attr"),
        (".relative:X", r"workload '.relative:X' must be module:attr"),
        ("quadratic(kappa=abc)", r"kappa='abc' must be a number"),
        ("quadratic(kapa=2)", r"unexpected keyword argument 'kapa'"),
        ("stdlib-gpt(width=10, heads=4)", r"width=10 must be a multiple of heads=4"),
    ],
)
def test_bad_workload_specs(spec, message):
    with pytest.raises(ValueError, match=message):
        resolve_workload(spec)
