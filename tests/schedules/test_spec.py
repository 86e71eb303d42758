"""Spec strings and dicts: round trips, the registry, and errors that name the offending token."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import budgetlr
from budgetlr.schedules import FAMILIES, keys_of, split_specs
from budgetlr.schedules.classic import Step
from budgetlr.schedules.uba import UBA
from tests.conftest import EXAMPLES


@pytest.mark.parametrize("spec", EXAMPLES.values())
def test_examples_round_trip(spec):
    parsed = budgetlr.parse(spec)
    assert str(parsed) == spec
    assert budgetlr.parse(str(parsed)) == parsed
    assert budgetlr.parse(parsed.to_dict()) == parsed


def test_string_dict_and_object_agree():
    expected = UBA(phi=0.5, warmup=0.05)
    assert budgetlr.parse("uba(phi=0.5, warmup=0.05)") == expected
    assert budgetlr.parse(" uba( warmup = 0.05 ,phi=0.5 ) ") == expected
    assert budgetlr.parse({"name": "uba", "phi": 0.5, "warmup": 0.05}) == expected
    assert budgetlr.parse({"name": "uba", "phi": "0.5", "warmup": "0.05"}) == expected
    assert budgetlr.parse(expected) is expected


def test_defaults_are_left_out_of_the_string():
    assert str(budgetlr.parse("uba(phi=1.0)")) == "uba"
    assert str(budgetlr.parse("wsd(shape=1-sqrt)")) == "wsd"
    assert budgetlr.parse("step(milestones=[0.5, 0.8])") == Step(milestones=(0.5, 0.8))


def test_registry_lists_keys_defaults_and_papers():
    assert keys_of(FAMILIES["uba"]) == {
        "phi": 1.0,
        "phases": 1,
        "warmup": None,
        "warmup_steps": None,
        "floor": 0.0,
    }
    assert FAMILIES["uba"].paper == "2505.24452"
    assert FAMILIES["rex"].paper == "2107.04197"
    assert keys_of(FAMILIES["exponential"])["floor"] == 0.01


def test_schedule_lists_split_on_top_level_commas():
    assert split_specs("cosine,uba(phi=0.5, warmup=0.1), step(milestones=[0.3, 0.6])") == [
        "cosine",
        "uba(phi=0.5, warmup=0.1)",
        "step(milestones=[0.3, 0.6])",
    ]
    for bad in ["", "cosine,,uba", "uba(phi=1", "cosine)"]:
        with pytest.raises(ValueError, match="malformed"):
            split_specs(bad)


@pytest.mark.parametrize(
    ("spec", "total_steps", "message"),
    [
        ("ubaa", 100, r"unknown schedule 'ubaa'; valid names: array, constant, cosine"),
        ("uba(ph=0.5)", 100, r"no key 'ph'; valid keys: phi, phases, warmup"),
        ("uba(phi=0)", 100, r"phi=0.0 must be > 0"),
        ("uba(phi=-1)", 100, r"phi=-1.0 must be > 0"),
        ("uba(phi=nan)", 100, r"phi='nan' must be a finite number"),
        ("uba(phi=inf)", 100, r"phi='inf' must be a finite number"),
        ("uba(phi=abc)", 100, r"phi='abc' must be a number"),
        ("uba(phases=0)", 100, r"phases=0 must be between 1 and 1000000"),
        ("uba(phases=1000001)", 10**12, r"phases=1000001 must be between 1 and 1000000"),
        ("uba", 0, r"total_steps must be > 0, got 0"),
        ("uba", -5, r"total_steps must be > 0"),
        ("uba", 10.5, r"total_steps must be a positive whole number"),
        ("cosine(warmup=0.1, warmup_steps=5)", 100, r"either warmup=0.1 .* or warmup_steps=5, not both"),
        ("cosine(warmup=1.2)", 100, r"warmup=1.2 .* must lie in \(0, 1\)"),
        ("cosine(warmup=0)", 100, r"warmup=0.0 .* must lie in \(0, 1\)"),
        ("cosine(warmup_steps=100)", 100, r"warmup of 100 steps must be shorter than total_steps=100"),
        ("cosine(warmup_steps=2.5)", 100, r"warmup_steps='2.5' must be a whole number"),
        ("cosine(floor=1.5)", 100, r"floor=1.5 .* must lie in \[0, 1\)"),
        ("wsd(shape=sqrt)", 100, r"shape='sqrt' is unknown; valid shapes: linear, 1-sqrt, cosine"),
        ("wsd(decay=0.5, warmup=0.6)", 100, r"wsd needs 1 <= decay steps"),
        ("step(milestones=0.5)", 100, r"milestones='0.5' must be a list"),
        ("step(milestones=[0.6, 0.3])", 100, r"strictly increasing"),
        ("rex(beta=1)", 100, r"beta=1.0 must lie in \[0, 1\)"),
        ("inverse_sqrt", 100, r"inverse_sqrt needs a warmup"),
        ("power", 100, r"power needs tokens_per_step > 0"),
        ("exponential(floor=0)", 100, r"never arrives: give floor > 0 or gamma"),
        ("refined", 100, r"exactly one of norms=\[...\] or file=PATH"),
        ("refined(file=/nonexistent/norms.txt)", 100, r"cannot read gradient norms from file='/nonexistent"),
        ("refined(norms=[1, -1])", 100, r"all finite and > 0"),
        ("uba(phi=1, phi=2)", 100, r"key 'phi' given twice"),
        ("uba(phi)", 100, r"malformed argument 'phi'"),
        ("3uba", 100, r"malformed schedule spec"),
        ({"phi": 1}, 100, r"lacks 'name'; valid names"),
        ({"name": "uba", "phi": True}, 100, r"phi=True must be a number"),
        (42, 100, r"must be a string or a dict"),
    ],
)
def test_bad_input_names_the_offending_token(spec, total_steps, message):
    with pytest.raises(ValueError, match=message):
        budgetlr.schedule(spec, total_steps)


SPEC_ALPHABET = "abcdefghijklmnopqrstuvwxyz_0123456789.-+=,()[] eE"
TOKENS = [
    *FAMILIES,
    "phi",
    "warmup",
    "warmup_steps",
    "floor",
    "decay",
    "shape",
    "milestones",
    "(",
    ")",
    "=",
    ",",
    "[",
    "]",
    "0.5",
    "-1",
    "1e309",
    "nan",
    "1-sqrt",
    " ",
    "[0.3, 0.6]",
    "norms",
    "file",
    "10",
]


def check_parse(text):
    try:
        budgetlr.schedule(text, 100)
    except ValueError as error:
        assert str(error).strip()


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=SPEC_ALPHABET, max_size=40))
def test_fuzz_random_strings_raise_only_value_error(text):
    check_parse(text)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=12).map("".join))
def test_fuzz_spec_like_strings_raise_only_value_error(text):
    check_parse(text)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=30))
def test_fuzz_any_unicode_raises_only_value_error(text):
    check_parse(text)
