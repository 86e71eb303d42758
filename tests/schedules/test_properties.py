"""Invariants of every registered family, over random specs and budgets (hypothesis)."""

import typing

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, find, given, settings
from hypothesis import strategies as st

import budgetlr
from budgetlr.errors import InvalidInput
from budgetlr.schedules import FAMILIES, SHAPES, keys_of
from budgetlr.schedules.refined import OPTIMIZERS

fractions = st.floats(0.01, 0.3)
#: Every string a family takes as a key (its check refuses the others): shapes and optimizers.
WORDS = sorted({*SHAPES, *OPTIMIZERS})


def sensible_value(family, key, hint):
    """A strategy for ``key`` of ``family`` within the ranges its maths is meant for, read from the
    key's type and default alone (a number within a factor of 10 of a non-zero default, with its
    sign); what the family's own check refuses is skipped."""
    kinds = set(typing.get_args(hint)) or {hint}
    default = keys_of(family)[key]
    if f"{key}_steps" in keys_of(family):  # a fraction of the budget, given or in steps
        return fractions
    if key == "floor":
        return st.sampled_from([0.0, 0.0, 0.1, 0.5])
    if tuple[float, ...] in kinds:  # multipliers, norms or milestones: sorted, or not
        values = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=50)
        return st.one_of(values, values.map(sorted))
    if float in kinds and isinstance(default, float) and default != 0.0:
        low, high = sorted((default / 10, default * 10))
        return st.one_of(st.just(default), st.floats(low, high))
    if float in kinds:
        return st.floats(0.01, 10.0)
    if int in kinds:
        return st.integers(1, 50)
    return st.sampled_from(WORDS)


@st.composite
def bound_schedules(draw):
    """Any registered family (a new one is covered as soon as it registers), with a random
    subset of its keys drawn from :func:`sensible_value` (a key without a default, which the family
    may need, three times in four), and a budget."""
    name = draw(st.sampled_from(sorted(FAMILIES)))
    family = FAMILIES[name]
    hints = typing.get_type_hints(family)
    spec = {"name": name}
    for key, default in keys_of(family).items():
        needed = default is None and f"{key}_steps" not in keys_of(family) and not key.endswith("_steps")
        if key not in ("file", "sha256") and draw(st.integers(0, 3)) < (3 if needed else 2):
            spec[key] = draw(sensible_value(family, key, hints[key]))
    total_steps = draw(st.integers(8, 3000))
    try:
        return budgetlr.schedule(spec, total_steps)
    except InvalidInput:
        assume(False)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_registered_family_is_drawn(name):
    drawn = settings(database=None, max_examples=10_000)
    found = find(bound_schedules(), lambda bound: bound.spec.name == name, settings=drawn)
    assert found.spec.name == name


def values(bound):
    return bound.multiplier(np.arange(bound.total_steps + 200))


settings.register_profile(
    "budgetlr", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much]
)
settings.load_profile("budgetlr")


@given(bound_schedules())
def test_multiplier_within_floor_and_one(bound):
    m = values(bound)
    assert np.isfinite(m).all()
    assert (m <= 1.0).all()
    assert (m >= bound.spec.floor - 1e-12).all()


@given(bound_schedules())
def test_non_increasing_after_warmup(bound):
    assume(bound.spec.is_monotone())
    m = values(bound)[bound.spec.warmup_end(bound.total_steps) :]
    assert (np.diff(m) <= 1e-12).all()


@given(bound_schedules())
def test_warmup_reaches_the_peak_exactly_at_w(bound):
    assume(bound.spec.peaks_at_warmup_end())
    warmup = bound.spec.warmup_end(bound.total_steps)
    m = values(bound)
    assert m[warmup] == 1.0
    assert (np.diff(m[: warmup + 1]) > 0).all()


@given(bound_schedules())
def test_ends_exactly_at_the_floor(bound):
    assume(bound.spec.ends_at_floor())
    assert (
        bound.multiplier(bound.total_steps) == bound.spec.floor
        or abs(bound.multiplier(bound.total_steps) - bound.spec.floor) <= 1e-15
    )


@given(bound_schedules())
def test_budgeted_schedules_never_rise_after_t(bound):
    assume(bound.spec.is_budgeted())
    m = values(bound)[bound.total_steps :]
    assert (m == m[0]).all()


@given(bound_schedules(), st.integers(0, 5000))
def test_scalar_and_vector_agree(bound, t):
    assert bound.multiplier(t) == bound.multiplier(np.array([t]))[0]


@given(bound_schedules())
def test_spec_round_trips(bound):
    assert budgetlr.parse(str(bound.spec)) == bound.spec
    assert budgetlr.parse(bound.spec.to_dict()) == bound.spec


# -- extreme parameters: every spec is refused when parsed, or gives finite LRs in [0, peak] --------
def extreme_floats():
    return st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from([0.0, 5e-324, 2.2e-308, 1e-160, 1e-17, 0.5, 1.0, 2.0, 1e17, 1e160, 1.7e308, -1.0]),
    )


def extreme_value(hint):
    """A strategy for a spec key of type ``hint``, reaching far past every sensible range."""
    kinds = set(typing.get_args(hint)) or {hint}
    options = [st.none()] if type(None) in kinds else []
    if tuple[float, ...] in kinds:
        options.append(st.lists(extreme_floats(), min_size=0, max_size=40))
    elif float in kinds:
        options.append(extreme_floats())
    elif int in kinds:
        options.append(st.one_of(st.integers(-5, 10**6), st.sampled_from([2**31, 2**62, 10**18])))
    elif str in kinds:
        options.append(st.sampled_from(["exp", "linear", "cosine", "1-sqrt", "sgd", "adam", "x"]))
    return st.one_of(options)


@st.composite
def extreme_specs(draw):
    name = draw(st.sampled_from(sorted(FAMILIES)))
    family = FAMILIES[name]
    hints = typing.get_type_hints(family)
    spec = {"name": name}
    for key in keys_of(family):
        if key in ("file", "sha256") or not draw(st.booleans()):
            continue
        spec[key] = draw(extreme_value(hints[key]))
    return spec, draw(st.one_of(st.integers(1, 5000), st.sampled_from([10**6, 10**12])))


@settings(max_examples=600)
@given(extreme_specs(), st.sampled_from([1.0, 1e-30, 3.4e38]))
# Each example found a defect once; kept so that it is tried on every run.
@example(({"name": "power", "tokens_per_step": 3.595386269724632e306, "batch": 4.49423283715579e307}, 1), 1.0)
def test_every_accepted_spec_gives_finite_lrs_within_zero_and_the_peak(drawn, peak):
    spec, total_steps = drawn
    try:
        bound = budgetlr.schedule(spec, total_steps)
    except InvalidInput:
        return  # refused when parsed, in one line
    steps = np.unique(
        np.concatenate(
            [np.arange(min(total_steps, 3000) + 50), np.linspace(0, total_steps + 10, 500).round()]
        )
    )
    lrs = bound.lr(steps, peak)
    assert np.isfinite(lrs).all(), spec
    assert (lrs >= 0).all() and (lrs <= peak).all(), spec


def test_huge_phi_and_norms_spanning_hundreds_of_decades_stay_finite():
    # uba: m = u / (phi/2 + (1 - phi/2) u) is 1 at p = 0 for every phi; the old form gave 1 / 0 there.
    uba = budgetlr.schedule("uba(phi=1e17, warmup=0.1)", 100)
    assert uba.multiplier(10) == 1.0 and uba.multiplier(0) == pytest.approx(1 / 11)
    # at p = 1/2, m = 2 / (2 + phi)
    assert budgetlr.schedule("uba(phi=1e17)", 100).multiplier(50) == pytest.approx(2 / (2 + 1e17), rel=1e-9)
    # refined, SGD: w = g^-2. With g_k = 10^(-160 k / 49), k = 0..49, w_k = r^k for r = 10^(320 / 49): the
    # weights span 10^320, past float64's range. s_t = w_t * sum_{k>t} w_k, so s_48 = r^97 is the largest
    # and s_47 / s_48 = (r^95 + r^96) / r^97 = (1 + 1/r) / r.
    curve = budgetlr.refine(np.logspace(0, -160, 50), smoothing=0)
    r = 10 ** (320 / 49)
    assert np.isfinite(curve).all() and curve[-2] == 1.0 and curve[-1] == 0.0
    assert curve[-3] == pytest.approx((1 + 1 / r) / r, rel=1e-9)
