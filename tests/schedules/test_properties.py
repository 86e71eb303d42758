"""Invariants of every family, over random specs and budgets (hypothesis)."""

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import budgetlr
from budgetlr.schedules import SHAPES

fractions = st.floats(0.01, 0.3)
FAMILY_KEYS = {
    "uba": {"phi": st.floats(0.05, 10.0)},
    "rex": {"beta": st.floats(0.0, 0.99)},
    "linear": {},
    "cosine": {},
    "polynomial": {"power": st.floats(0.1, 5.0)},
    "step": {"gamma": st.floats(0.01, 0.99)},
    "exponential": {"floor": st.floats(0.001, 0.5)},
    "inverse_sqrt": {"warmup_steps": st.integers(1, 50)},
    "constant": {},
    "onecycle": {"div_factor": st.floats(1.0, 100.0), "final_div_factor": st.floats(1.0, 1e4)},
    "wsd": {"decay": fractions, "shape": st.sampled_from(sorted(SHAPES))},
    "infinite": {
        "const": st.floats(0.06, 1.0),
        "cooldown": fractions,
        "anneal": fractions,
        "floor": st.floats(0.001, 0.05),
    },
    "power": {"tokens_per_step": st.floats(1.0, 1e6), "batch": st.floats(1.0, 1e3), "decay": fractions},
    "refined": {
        "norms": st.lists(st.floats(0.01, 100.0), min_size=2, max_size=50),
        "smoothing": st.floats(0, 0.5),
    },
}
# Families whose multiplier reaches exactly 1 at the end of the warmup, and whose last value is the floor.
PEAK_AT_WARMUP_END = {
    "uba",
    "rex",
    "linear",
    "cosine",
    "polynomial",
    "step",
    "exponential",
    "inverse_sqrt",
    "constant",
    "wsd",
    "infinite",
}
ENDS_AT_FLOOR = {
    "uba",
    "rex",
    "linear",
    "cosine",
    "polynomial",
    "exponential",
    "wsd",
    "infinite",
    "power",
    "refined",
}


@st.composite
def bound_schedules(draw):
    name = draw(st.sampled_from(sorted(FAMILY_KEYS)))
    spec = {"name": name, **{key: draw(strategy) for key, strategy in FAMILY_KEYS[name].items()}}
    if name not in ("inverse_sqrt", "onecycle") and draw(st.booleans()):
        spec["warmup"] = draw(fractions)
    if "floor" not in spec and name != "onecycle":
        spec["floor"] = draw(st.sampled_from([0.0, 0.0, 0.1, draw(st.floats(0.0, 0.9))]))
    total_steps = draw(st.integers(8, 3000))
    try:
        return budgetlr.schedule(spec, total_steps)
    except ValueError:
        assume(False)


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
    assume(bound.spec.name in PEAK_AT_WARMUP_END)
    warmup = bound.spec.warmup_end(bound.total_steps)
    m = values(bound)
    assert m[warmup] == 1.0
    assert (np.diff(m[: warmup + 1]) > 0).all()


@given(bound_schedules())
def test_ends_exactly_at_the_floor(bound):
    assume(bound.spec.name in ENDS_AT_FLOOR)
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
