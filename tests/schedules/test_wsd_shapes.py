"""WSD's cooldown shapes against the published formulas of arXiv 2405.18392, written out here as
its authors' ``wsd_schedule`` (epfml/schedules-and-scaling) defines them: with ``n`` steps, the
last ``d`` decay, ``x = (t - (n - d)) / d`` and final-LR factor ``f``, the LR multiplier is
``f + (1 - f) S(x)`` for linear, cosine, square and 1-sqrt, and ``f^x`` for the exponential form."""

import math

import numpy as np
import pytest

import budgetlr

T, DECAY = 1000, 200
PUBLISHED = {
    "linear": lambda x, f: f + (1 - f) * (1 - x),
    "cosine": lambda x, f: f + (1 - f) * 0.5 * (1 + math.cos(math.pi * x)),
    "square": lambda x, f: f + (1 - f) * (1 - x**2),
    "1-sqrt": lambda x, f: f + (1 - f) * (1 - math.sqrt(x)),
}
DECAY_STEPS = range(T - DECAY, T)


def published(formula, final_factor):
    return [formula((t - (T - DECAY)) / DECAY, final_factor) for t in DECAY_STEPS]


@pytest.mark.parametrize("shape", PUBLISHED)
@pytest.mark.parametrize("floor", [0.0, 0.01, 0.1])
def test_published_shapes_equal_the_paper_with_the_floor_as_final_lr_factor(shape, floor):
    wsd = budgetlr.schedule(f"wsd(decay_steps={DECAY}, shape={shape}, floor={floor})", T)
    ours = wsd.multiplier(np.array(DECAY_STEPS))
    assert ours == pytest.approx(published(PUBLISHED[shape], floor), rel=1e-12, abs=1e-15)


def test_shifted_exp_is_the_papers_exponential_form_only_at_floor_one_hundredth():
    exponential = lambda x, f: f**x  # noqa: E731
    at_one_hundredth = budgetlr.schedule(f"wsd(decay_steps={DECAY}, shape=shifted-exp, floor=0.01)", T)
    assert at_one_hundredth.multiplier(np.array(DECAY_STEPS)) == pytest.approx(
        published(exponential, 0.01), rel=1e-12
    )
    midpoint = T - DECAY // 2
    at_zero = budgetlr.schedule(f"wsd(decay_steps={DECAY}, shape=shifted-exp)", T).multiplier(midpoint)
    assert at_zero == pytest.approx((0.1 - 0.01) / 0.99, rel=1e-12)  # 0.0909..., not the paper's 0.1
    assert at_one_hundredth.multiplier(midpoint) == pytest.approx(0.1, rel=1e-12)
