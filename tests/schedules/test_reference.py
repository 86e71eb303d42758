"""The reference values of docs/conventions.md, value by value: tables of (step, expected)."""

import itertools

import numpy as np
import pytest

import budgetlr
from budgetlr.schedules import FAMILIES, refine
from tests.conftest import EXAMPLES

P = [0.0, 0.25, 0.5, 0.75, 1.0]


def at_progress(spec, p, total_steps=4):
    return budgetlr.schedule(spec, total_steps).multiplier(np.array(p) * total_steps)


UBA_TABLE = {
    0.25: [1, 0.979004, 0.888889, 0.578518, 0],
    0.5: [1, 0.958871, 0.800000, 0.406983, 0],
    1.0: [1, 0.920991, 0.666667, 0.255479, 0],
    2.0: [1, 0.853553, 0.500000, 0.146447, 0],
    4.0: [1, 0.744521, 0.333333, 0.079009, 0],
}


@pytest.mark.parametrize(("phi", "expected"), UBA_TABLE.items())
def test_uba_table(phi, expected):
    assert at_progress(f"uba(phi={phi})", P) == pytest.approx(expected, abs=5e-7)


@pytest.mark.parametrize("phi", [0.1, 0.5, 1.0, 3.0, 7.5])
def test_uba_midpoint_is_two_over_two_plus_phi(phi):
    assert at_progress(f"uba(phi={phi})", 0.5) == pytest.approx(2 / (2 + phi), rel=1e-12)


def test_uba_phi_2_is_cosine_and_phi_1_is_rex_of_cosine():
    steps = np.arange(1001)
    cosine = budgetlr.schedule("cosine", 1000).multiplier(steps)
    np.testing.assert_allclose(budgetlr.schedule("uba(phi=2)", 1000).multiplier(steps), cosine, rtol=1e-12)
    # REX's transform z / (1 - z/2)... applied to the cosine's u: u / (1/2 + u/2) = 2u / (1 + u).
    np.testing.assert_allclose(
        budgetlr.schedule("uba(phi=1)", 1000).multiplier(steps), 2 * cosine / (1 + cosine), rtol=1e-12
    )


def test_uba_falls_as_phi_grows():
    curves = [at_progress(f"uba(phi={phi})", np.linspace(0.01, 0.99, 99)) for phi in (0.25, 0.5, 1, 2, 4)]
    assert all((a > b).all() for a, b in itertools.pairwise(curves))


def test_uba_phases_restart_on_phase_local_progress():
    assert at_progress("uba(phi=0.5, phases=2)", [0, 0.125, 0.25, 0.375, 0.5, 0.75, 1], 8) == pytest.approx(
        [1, 0.958871, 0.8, 0.406983, 1, 0.8, 0], abs=5e-7
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("rex", [1, 0.857143, 0.666667, 0.4, 0]),
        ("rex(beta=0.9)", [1, 0.75 / (0.1 + 0.9 * 0.75), 0.5 / 0.55, 0.25 / 0.325, 0]),
        ("linear", [1, 0.75, 0.5, 0.25, 0]),
        ("cosine", [1, 0.853553, 0.5, 0.146447, 0]),
        ("polynomial(power=2)", [1, 0.5625, 0.25, 0.0625, 0]),
        ("constant", [1, 1, 1, 1, 1]),
        ("exponential(floor=0.01)", [1, 0.01**0.25, 0.1, 0.01**0.75, 0.01]),
    ],
)
def test_progress_tables(spec, expected):
    assert at_progress(spec, P) == pytest.approx(expected, abs=5e-7)


def test_step_is_30_60_90_with_gamma_01():
    steps = [0, 299, 300, 599, 600, 899, 900, 1000]
    expected = [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert budgetlr.schedule("step", 1000).multiplier(steps) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("shape", "expected"), [("linear", [0.75, 0.5]), ("1-sqrt", [0.5, 0.292893])])
def test_wsd_reference(shape, expected):
    wsd = budgetlr.schedule(f"wsd(decay_steps=1000, shape={shape})", 10000)
    assert wsd.multiplier([0, 8999, 9000]) == pytest.approx([1, 1, 1])
    assert wsd.multiplier([9250, 9500]) == pytest.approx(expected, abs=5e-7)
    assert wsd.multiplier(10000) == 0.0


def test_wsd_decay_fraction_defaults_to_a_fifth():
    wsd = budgetlr.schedule("wsd(shape=linear)", 1000)
    assert wsd.multiplier([799, 800, 900, 1000]) == pytest.approx([1, 1, 0.5, 0])


@pytest.mark.parametrize("shape", ["linear", "1-sqrt", "cosine", "square", "shifted-exp"])
def test_wsd_shapes_end_at_zero(shape):
    wsd = budgetlr.schedule(f"wsd(decay=0.1, shape={shape})", 100)
    values = wsd.multiplier(np.arange(90, 101))
    assert values[0] == 1.0 and values[-1] == 0.0
    assert (np.diff(values) < 0).all()


def test_infinite_reference():
    infinite = budgetlr.schedule(
        {
            "name": "infinite",
            "warmup_steps": 100,
            "const": 3.75e-5 / 3e-4,
            "cooldown_steps": 900,
            "anneal_steps": 1000,
            "floor": 1e-6 / 3e-4,
        },
        6000,
    )
    steps = [100, 550, 1000, 3000, 5000, 5500, 6000]
    expected = [3e-4, 1.6875e-4, 3.75e-5, 3.75e-5, 3.75e-5, 6.123724e-6, 1e-6]
    assert infinite.lr(steps, 3e-4) == pytest.approx(expected, rel=1e-6)


def test_onecycle_reference():
    assert budgetlr.schedule("onecycle", 100).multiplier([0, 29, 99]) == pytest.approx(
        [0.04, 1.0, 4e-6], rel=1e-12
    )


def test_inverse_sqrt_after_warmup():
    assert budgetlr.schedule("inverse_sqrt(warmup_steps=100)", 10000).multiplier(
        [99, 100, 400, 10000, 40000]
    ) == pytest.approx([100 / 101, 1, 0.5, 0.1, 0.05])


def test_power_follows_tokens_seen_and_caps_at_lr_max():
    power = budgetlr.schedule("power(tokens_per_step=1000, batch=4, warmup_steps=10)", 10**6)
    t = np.array([10, 10**4, 10**5, 10**6])
    expected = np.minimum(0.02, 4 * 4.0 * (t * 1000.0) ** -0.51)
    assert power.lr(t, 0.02) == pytest.approx(expected, rel=1e-12)
    assert expected[0] == 0.02 and expected[-1] < 0.02


def test_power_stays_exact_where_its_factors_overflow_float64():
    # Found by hypothesis: tokens seen and batch * a overflow, and their product gave inf * 0 = NaN.
    # log10 m = log10(4.494e307 * 4 / 0.02) - 0.51 log10(3.595e306) = 153.6: capped at the peak.
    overflowing = {"name": "power", "tokens_per_step": 3.595386269724632e306, "batch": 4.49423283715579e307}
    assert budgetlr.schedule(overflowing, 1).lr([0, 1], 1.0).tolist() == [1.0, 1.0]
    # batch * a = 1e310 overflows and n^b = 1e-330 underflows; m = 1e310 * (t * 1e300)^-1.1 / 1
    tiny = budgetlr.schedule("power(tokens_per_step=1e300, batch=1e300, a=1e10, b=-1.1, lr_max=1)", 100)
    assert tiny.multiplier([1, 10]) == pytest.approx([1e-20, 10**-21.1], rel=1e-9)


def test_power_final_decay_ends_at_zero():
    power = budgetlr.schedule("power(tokens_per_step=1000, batch=4, decay=0.1)", 1000)
    assert power.multiplier(1000) == 0.0
    assert power.multiplier(900) == pytest.approx(min(1.0, 16 * (900 * 1000.0) ** -0.51 / 0.02))


@pytest.mark.parametrize(
    ("norms", "optimizer", "expected"),
    [
        ([1, 1, 1, 1, 1], "sgd", [1, 0.75, 0.5, 0.25, 0]),
        ([1, 1, 2, 2], "sgd", [1, 0.333333, 0.041667, 0]),
        ([1, 1, 2, 2], "adam", [1, 0.5, 0.125, 0]),
        ([4, 2, 1, 1, 1], "sgd", [0.1015625, 0.375, 1, 0.5, 0]),
    ],
)
def test_refinement_checks(norms, optimizer, expected):
    assert refine(norms, optimizer, smoothing=0) == pytest.approx(expected, abs=5e-7)


def test_refinement_median_filter_removes_a_spike():
    norms = np.ones(100)
    norms[50] = 100.0
    assert refine(norms, "sgd", smoothing=0.1) == pytest.approx(refine(np.ones(100), "sgd", 0.1))
    assert refine(norms, "sgd", smoothing=0)[50] < 1e-3


def test_refined_schedule_interpolates_on_progress():
    refined = budgetlr.schedule("refined(norms=[4, 2, 1, 1, 1], smoothing=0)", 8)
    assert refined.multiplier([0, 2, 3, 4, 8]) == pytest.approx([0.1015625, 0.375, 0.6875, 1, 0])


def test_refined_reads_norms_from_files(tmp_path):
    text = tmp_path / "norms.txt"
    text.write_text("4\n2\n1\n1\n1\n")
    array = tmp_path / "norms.npy"
    np.save(array, np.array([4.0, 2, 1, 1, 1]))
    for path in (text, array):
        assert budgetlr.schedule(f"refined(file={path}, smoothing=0)", 4).multiplier(0) == pytest.approx(
            0.1015625, rel=1e-12
        )


def test_array_replays_its_values_at_their_own_budget_and_interpolates_at_others():
    values = [0.2, 1.0, 0.8, 0.4]
    assert budgetlr.schedule(f"array(values={values})", 4).multiplier([0, 1, 2, 3, 4, 9]) == pytest.approx(
        [0.2, 1.0, 0.8, 0.4, 0.4, 0.4]
    )
    # At T = 8, step t sits at progress t / 8: halfway between recorded steps at odd t.
    assert budgetlr.schedule(f"array(values={values})", 8).multiplier([0, 1, 3, 6, 7]) == pytest.approx(
        [0.2, 0.6, 0.9, 0.4, 0.4]
    )


def test_array_reads_files_and_rejects_bad_values(tmp_path):
    path = tmp_path / "lrs.npy"
    np.save(path, np.array([1.0, 0.5]))
    assert budgetlr.schedule(f"array(file={path})", 2).multiplier([0, 1]) == pytest.approx([1.0, 0.5])
    for spec, message in [
        ("array", "exactly one of values"),
        ("array(values=[1, -1])", r"all in \[0, 1\]"),
        ("array(values=[2.0])", r"all in \[0, 1\]"),
        (f"array(file={tmp_path / 'missing.txt'})", "cannot read multipliers"),
    ]:
        with pytest.raises(ValueError, match=message):
            budgetlr.parse(spec)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_family_runs_an_example_of_itself_in_its_docstring(name):
    # the example spec is read from the docstring (tests.conftest.EXAMPLES); the doctest runs it
    assert ">>> " in FAMILIES[name].__doc__ and budgetlr.parse(EXAMPLES[name]).name == name


def test_warmup_ramp_reaches_the_peak_at_w():
    cosine = budgetlr.schedule("cosine(warmup_steps=4)", 104)
    assert cosine.multiplier([0, 1, 2, 3, 4]) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0], rel=1e-15)


def test_floor_is_interpolated_not_clamped():
    linear = budgetlr.schedule("linear(floor=0.1)", 10)
    assert linear.multiplier(np.arange(11)) == pytest.approx(0.1 + 0.9 * (1 - np.arange(11) / 10))
