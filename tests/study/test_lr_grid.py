"""The coarse-then-fine LR grid: hand-made tables of (validation loss per LR, LRs added)."""

import math

import pytest

from budgetlr.study.lr_grid import flags, next_lrs

NAN = math.nan
COARSE = (0.01, 0.02, 0.04, 0.08)


@pytest.mark.parametrize(
    ("val_by_lr", "added"),
    [
        # optimum inside: the midpoints towards both neighbours, 0.02 * sqrt(2) and 0.04 / sqrt(2)
        ({0.01: 3.0, 0.02: 1.0, 0.04: 2.0, 0.08: 4.0}, [0.01414, 0.02828]),
        # optimum at the top edge: one coarse step beyond, and the midpoint below
        ({0.01: 4.0, 0.02: 3.0, 0.04: 2.0, 0.08: 1.0}, [0.05657, 0.16]),
        # optimum at the bottom edge: one step below, and the midpoint above
        ({0.01: 1.0, 0.02: 2.0, 0.04: 3.0, 0.08: 4.0}, [0.005, 0.01414]),
        # next to a divergence: the midpoint towards it is tried too
        ({0.01: 3.0, 0.02: 2.0, 0.04: 1.0, 0.08: NAN}, [0.02828, 0.05657]),
        # refined: neighbours sqrt(2) away (rounded to 4 digits), nothing more
        ({0.01414: 2.0, 0.02: 1.0, 0.02828: 1.5, 0.04: 3.0}, []),
        # every LR diverged: one step below the lowest
        ({0.01: NAN, 0.02: NAN}, [0.005]),
    ],
)
def test_a_round_adds_the_midpoints_around_the_optimum_and_steps_past_an_edge(val_by_lr, added):
    assert next_lrs(val_by_lr, COARSE) == added


def test_the_grid_grows_at_most_six_coarse_steps_past_the_coarse_grid():
    assert next_lrs({5.12: 1.0, 3.62: 2.0}, COARSE) == []  # 0.08 x 2^6 = 5.12 is the last
    assert next_lrs({2.56: 1.0, 1.81: 2.0}, COARSE) == [5.12]
    assert next_lrs({0.00015625: 1.0, 0.000221: 2.0}, COARSE) == []  # 0.01 / 2^6
    assert next_lrs({0.00015625: NAN}, COARSE) == []


def test_a_higher_is_better_metric_tunes_to_its_largest_value():
    assert next_lrs({0.01: 0.9, 0.02: 0.5}, COARSE, higher_is_better=True) == [0.005, 0.01414]


@pytest.mark.parametrize(
    ("val_by_lr", "tuned", "said"),
    [
        ({0.01: 2.0, 0.01414: 1.0, 0.02: 3.0}, 0.01414, []),
        ({0.01: 1.0, 0.01414: 2.0}, 0.01, ["at a grid edge"]),
        ({0.01: 2.0, 0.01414: 1.0, 0.02: NAN}, 0.01414, ["next to a divergence"]),
        ({0.01: 2.0, 0.02: 1.0, 0.04: 3.0}, 0.02, ["neighbours over sqrt(2) apart"]),
        ({0.01: NAN}, None, ["every LR diverged"]),
    ],
)
def test_a_tuned_lr_at_an_edge_or_a_cliff_is_flagged(val_by_lr, tuned, said):
    assert flags(val_by_lr, tuned) == said


def test_the_page_names_every_cell_whose_tuned_lr_is_at_an_edge_or_too_coarse():
    from budgetlr.study.analysis import Cell
    from budgetlr.study.measurements import tuning
    from budgetlr.study.pages import page_text

    def cell(schedule, val_by_lr, tuned):
        return Cell("w", schedule, 0.5, 100, "loss", False, tuned, val_by_lr)

    fine = cell("cosine", {0.1: 1.0, 0.1414: 0.9, 0.2: 0.95}, 0.1414)
    edge = cell("linear", {0.1: 0.9, 0.1414: 1.0}, 0.1)
    coarse = cell("wsd", {0.1: 1.0, 0.2: 0.9, 0.4: 1.0}, 0.2)
    text = page_text(tuning([fine, edge, coarse], str))
    assert "1 of 3 cells have their tuned LR inside their grid" in text
    assert "| w | linear | 0.5 | 0.1 | at a grid edge |" in text
    assert "| w | wsd | 0.5 | 0.2 | neighbours over sqrt(2) apart |" in text
    assert "cosine" not in text
