"""Refinement (arXiv 2310.07831) against the authors' own procedure, re-derived here from their public
code (facebookresearch/adaptive_scheduling: the smoothing in ``visual.py``, the closed form in
``find_schedule.py``) with scipy's median filter, not with budgetlr's code."""

import numpy as np
import pytest
from scipy.ndimage import median_filter

from budgetlr.schedules import refine
from budgetlr.schedules.refined import median_width

POWERS = {"sgd": 2.0, "adam": 1.0}  # w = g^-2 for SGD, g^-1 (of l1 norms) for Adam


def authors_refinement(norms, optimizer, smoothing):
    """The authors' steps: an odd width from the fraction, the right end padded by reflection over
    twice the width and cut off again, scipy's 'nearest' edge on the left; then the closed form."""
    g = np.asarray(norms, dtype=np.float64)
    width = 2 * (int(smoothing * g.size) // 2) + 1
    pad = 2 * width
    smoothed = median_filter(np.pad(g, (0, pad), mode="reflect"), size=width, mode="nearest")[:-pad]
    weights = smoothed ** -POWERS[optimizer]
    tail = np.cumsum(weights[::-1])[::-1]  # tail[t] = sum_{k >= t} w_k
    s = np.zeros_like(weights)
    s[:-1] = weights[:-1] * tail[1:]
    return s / s.max()


def steeply_falling(steps):
    """Large early norms that fall within the first 1% of the run, as a ViT's l1 norms do."""
    t = np.arange(steps)
    return 1.0 + 50.0 * np.exp(-t / (0.003 * steps))


def rising(steps):
    return 0.5 + 2.0 * np.linspace(0.0, 1.0, steps) ** 1.5


def noisy(steps):
    trend = 1.0 + 0.5 * np.cos(np.linspace(0.0, 3.0, steps))
    return trend * np.random.default_rng(7).lognormal(0.0, 0.4, steps)


@pytest.mark.parametrize(("smoothing", "steps", "width"), [(0.1, 999, 99), (0.1, 1015, 101), (0.1, 1000, 101),
                                                          (0.1, 40, 5), (0.2, 40, 9), (0.0, 500, 1)])  # fmt: skip
def test_the_median_width_is_the_authors(smoothing, steps, width):
    assert median_width(smoothing, steps) == width


@pytest.mark.parametrize("sequence", [steeply_falling, rising, noisy])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize(("steps", "smoothing"), [(999, 0.1), (1015, 0.1), (300, 0.25), (7, 0.5), (5, 0.9)])
def test_refine_equals_the_authors_procedure(sequence, optimizer, steps, smoothing):
    norms = sequence(steps)
    expected = authors_refinement(norms, optimizer, smoothing)
    np.testing.assert_allclose(refine(norms, optimizer, smoothing), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_warmup_emerges_from_steeply_falling_norms(optimizer):
    schedule = refine(steeply_falling(1000), optimizer, smoothing=0.1)
    peak = int(np.argmax(schedule))
    assert schedule[0] < 0.05  # starts near 0: the large early norms survive the smoothing
    assert 10 <= peak <= 50 and (np.diff(schedule[: peak + 1]) > 0).all()  # then rises to the peak
    assert schedule[-1] == 0.0


def test_without_smoothing_the_closed_form_alone_is_applied():
    norms = noisy(50)
    for optimizer in POWERS:
        np.testing.assert_allclose(
            refine(norms, optimizer, 0.0), authors_refinement(norms, optimizer, 0.0), rtol=0, atol=1e-12
        )
