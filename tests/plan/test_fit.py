import numpy as np
import pytest

from budgetlr.plan import Run, fit, predicted_loss

TRUE = {"L0": 2.4, "A": 0.65, "alpha": 0.43, "B": 520.0, "C": 2.0, "beta": 0.6, "gamma": 0.63}
WARMUP, TOTAL, PEAK = 100, 3000, 3e-4


def lrs_of(kind):
    t = np.arange(WARMUP, TOTAL)
    after = {
        "cosine": 3e-5 + 0.5 * (PEAK - 3e-5) * (1 + np.cos(np.pi * (t - WARMUP) / (TOTAL - WARMUP))),
        "constant": np.full(t.size, PEAK),
        "two-stage": np.where(t < 1500, PEAK, 9e-5),
        "wsd": np.where(t < 2500, PEAK, PEAK + (3e-5 - PEAK) * (t - 2500) / 500),
    }[kind]
    return np.concatenate([np.linspace(0, PEAK, WARMUP), after])


def synthetic(kind, law="mpl", theta=TRUE):
    lrs = lrs_of(kind)
    steps = np.arange(WARMUP, TOTAL, 25)
    return Run(kind, lrs, steps, predicted_loss(law, list(theta.values()), lrs, steps))


@pytest.fixture(scope="module")
def mpl_fit():
    return fit([synthetic(kind) for kind in ("cosine", "constant", "two-stage")], "mpl", seed=3, replicates=4)


def test_a_fit_to_curves_from_known_parameters_recovers_them(mpl_fit):
    for name, value in TRUE.items():
        assert mpl_fit.parameters[name] == pytest.approx(value, rel=0.02), name
    assert all(run.pred_e < 1e-5 for run in mpl_fit.runs)
    held_out = synthetic("wsd")
    predicted = predicted_loss("mpl", mpl_fit.theta, held_out.lrs, held_out.steps)
    assert predicted == pytest.approx(held_out.losses, rel=1e-5)


def test_bootstrap_intervals_hold_the_parameters(mpl_fit):
    assert len(mpl_fit.samples) == 4
    for name, value in TRUE.items():
        low, high = mpl_fit.interval(name)
        assert low <= mpl_fit.parameters[name] * 1.001 and high >= mpl_fit.parameters[name] * 0.999
        assert low == pytest.approx(value, rel=0.05) and high == pytest.approx(value, rel=0.05)


@pytest.mark.parametrize(
    "law, theta",
    [
        ("tissue", {"L0": 2.4, "A": 0.6, "alpha": 0.45, "C": 3.0, "memory": 150.0}),
        ("reduced", {"L0": 2.4, "A": 0.6, "alpha": 0.45, "B": 400.0}),
        ("power", {"L0": 2.4, "A": 3.0, "alpha": 0.3}),
    ],
)
def test_each_baseline_law_recovers_its_parameters(law, theta):
    runs = [synthetic(kind, law, theta) for kind in ("cosine", "two-stage")]
    result = fit(runs, law, replicates=0)
    for name, value in theta.items():
        assert result.parameters[name] == pytest.approx(value, rel=5e-3), name


def test_a_fit_is_the_same_twice():
    runs = [
        synthetic(kind, "tissue", {"L0": 2.4, "A": 0.6, "alpha": 0.45, "C": 3.0, "memory": 150.0})
        for kind in ("cosine", "constant")
    ]
    runs = [Run(r.name, r.lrs, r.steps, r.losses * (1 + 0.002 * np.sin(r.steps))) for r in runs]
    first, second = fit(runs, "tissue", seed=7, replicates=3), fit(runs, "tissue", seed=7, replicates=3)
    assert first.parameters == second.parameters and first.samples == second.samples


def test_spread_over_seeds_drives_the_bootstrap():
    theta = {"L0": 2.4, "A": 3.0, "alpha": 0.3}
    narrow = [
        Run(r.name, r.lrs, r.steps, r.losses, spread=np.full(r.steps.size, 1e-4))
        for r in [synthetic("constant", "power", theta)]
    ]
    wide = [Run(r.name, r.lrs, r.steps, r.losses, spread=np.full(r.steps.size, 1e-2)) for r in narrow]
    width = [np.subtract(*fit(runs, "power", replicates=8).interval("L0")[::-1]) for runs in (narrow, wide)]
    assert width[1] > 10 * width[0] > 0


@pytest.mark.parametrize("law", ["mpl", "tissue", "reduced"])
def test_constant_lr_runs_alone_are_refused_naming_the_run_to_add(law):
    runs = [synthetic("constant", "power", {"L0": 2.4, "A": 3.0, "alpha": 0.3})]
    with pytest.raises(ValueError, match=f"{law} cannot tell .* add a run whose LR decays"):
        fit(runs, law)


def test_fewer_points_than_parameters_are_refused():
    run = Run("short", lrs_of("cosine"), [200, 900, 2000], [3.0, 2.9, 2.8])
    with pytest.raises(
        ValueError, match="mpl has 7 parameters but the runs hold 3 observed losses: add a run"
    ):
        fit([run], "mpl")
