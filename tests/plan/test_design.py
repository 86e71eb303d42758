"""plan design: the candidates' final losses on a law whose values are derived by hand, the gain's
interval from the bootstrap samples, the horizon limit, budgets in other units."""

import re

import pytest

from budgetlr.errors import InvalidInput
from budgetlr.plan import Fit, RunFit, design
from budgetlr.plan.designing import FAMILIES, budget_steps, candidate_specs

#: The reduced law L0 + A S1^-alpha - B (peak - eta_last) with L0=2, A=1, alpha=0.5, B=0.5, fitted on
#: one 1,000-step run at peak 0.1.
REDUCED = Fit(
    "reduced",
    {"L0": 2.0, "A": 1.0, "alpha": 0.5, "B": 0.5},
    0.0,
    (RunFit("a", 1000, 0.1, 9, 0.0),),
    (),
    0,
    0.0,
)


@pytest.mark.parametrize(
    "spec, expected",
    # By hand, T = 1000, peak 0.1. sum_{t<1000} cos(pi t / 1000) = 1 (the terms cancel in pairs), so
    # cosine and linear to 0 both have S1 = 0.1 * 500.5 = 50.05; with a floor f, S1 = 0.1 * (1000 f
    # + (1 - f) 500.5). The last LR (t = 999): linear 0.1 * (f + (1 - f) 0.001), cosine
    # 0.1 * (f + (1 - f) (1 + cos(0.999 pi)) / 2) = 0.1 * (f + (1 - f) 2.4674e-6).
    [
        ("cosine(floor=0)", 2 + 50.05**-0.5 - 0.5 * (0.1 - 0.1 * 2.4674e-6)),
        ("linear(floor=0)", 2 + 50.05**-0.5 - 0.5 * (0.1 - 0.0001)),
        ("cosine(floor=0.1)", 2 + 55.045**-0.5 - 0.5 * (0.1 - 0.1 * (0.1 + 0.9 * 2.4674e-6))),
        ("linear(floor=0.1)", 2 + 55.045**-0.5 - 0.5 * (0.1 - 0.1 * (0.1 + 0.9 * 0.001))),
    ],
)
def test_each_candidates_final_loss_is_the_laws_by_hand(spec, expected):
    result = design(REDUCED, 1000, 0.1, ["cosine", "linear"])
    losses = {candidate.spec: candidate.final_loss for candidate in result.candidates}
    assert losses[spec] == pytest.approx(expected, abs=1e-9)


def test_the_best_is_the_lowest_and_its_gains_are_over_the_baselines():
    result = design(REDUCED, 1000, 0.1, ["cosine", "linear"])
    assert result.best.spec == "cosine(floor=0.1)"
    over = {gain.baseline: gain for gain in result.gains}
    assert over["cosine"].gain == pytest.approx(0.0015659, abs=1e-6)
    assert over["linear"].gain == pytest.approx(0.0016157, abs=1e-6)
    assert over["cosine"].relative == pytest.approx(0.0015659 / 2.0913508, rel=1e-4)
    assert result.extrapolation == ()


def test_the_gains_interval_is_over_the_paired_bootstrap_samples():
    # Three samples that differ only in B. The gain of cosine(floor=0.1) over cosine(floor=0) is
    # area - B * drop: area = 50.05^-0.5 - 55.045^-0.5 from S1, drop = 0.01 (1 - 2.4674e-6) the
    # difference of their last LRs. numpy's percentiles of 3 sorted values g(0.6) < g(0.5) < g(0.4)
    # interpolate at positions 0.05 and 1.95.
    samples = tuple((2.0, 1.0, 0.5, b) for b in (0.4, 0.5, 0.6))
    fit = Fit(REDUCED.law, REDUCED.parameters, 0.0, REDUCED.runs, samples, 0, 0.0)
    result = design(fit, 1000, 0.1, ["cosine"], baselines=["cosine(floor=0.1)", "cosine(floor=0)"])
    tie, cosine = result.gains
    assert tie.gain == 0 and tie.low == tie.high == 0 and not tie.exceeds  # the best against itself
    area, drop = 50.05**-0.5 - 55.045**-0.5, 0.01 * (1 - 2.4674e-6)
    assert cosine.gain == pytest.approx(area - 0.5 * drop, abs=1e-9)
    assert cosine.low == pytest.approx(area - 0.6 * drop + 0.05 * 0.1 * drop, abs=1e-9)
    assert cosine.high == pytest.approx(area - 0.5 * drop + 0.95 * 0.1 * drop, abs=1e-9)
    assert cosine.exceeds


def test_a_horizon_past_4x_the_longest_run_is_refused_and_up_to_it_labelled():
    assert design(REDUCED, 4000, 0.1, ["linear"]).extrapolation == (
        "horizon 4000 steps lies past the longest fitted run (1000 steps)",
    )
    with pytest.raises(InvalidInput, match=r"4001 steps lies past 4x the longest fitted run \(1000 steps\)"):
        design(REDUCED, 4001, 0.1, ["linear"])


def test_a_law_blind_to_the_lr_is_refused():
    blind = Fit("power", {"L0": 2.0, "A": 1.0, "alpha": 0.5}, 0.0, REDUCED.runs, (), 0, 0.0)
    with pytest.raises(
        InvalidInput, match="the power law does not read the LR, so it predicts every schedule alike"
    ):
        design(blind, 1000, 0.1)


def test_the_power_family_needs_its_tokens_per_step_and_batch():
    pairs, skipped = candidate_specs(["power"])
    assert pairs == [] and skipped == [
        "power: needs the tokens per step and the batch (tokens_per_step=..., batch=...)"
    ]
    with pytest.raises(InvalidInput, match="no family to design from: power: needs"):
        design(REDUCED, 1000, 0.1, ["power"])
    pairs, _ = candidate_specs(["power"], warmup_steps=10, power="tokens_per_step=4096, batch=8")
    assert pairs[0] == (
        "power",
        "power(decay=0.1, shape=1-sqrt, warmup_steps=10, tokens_per_step=4096, batch=8)",
    )


def test_every_family_has_candidates_that_parse():
    pairs, _ = candidate_specs(FAMILIES, warmup_steps=5, power="tokens_per_step=4096, batch=8")
    assert {family for family, _ in pairs} == set(FAMILIES)
    result = design(REDUCED, 1000, 0.1, FAMILIES, warmup_steps=5, power="tokens_per_step=4096, batch=8")
    assert len(result.candidates) == len(pairs) == 60


@pytest.mark.parametrize(
    "budget, rates, steps",
    [
        (24000, {}, 24000),
        ("2e9 tokens", {"tokens_per_step": 524288}, 3814),  # 2e9 / 2^19 = 3814.7
        ("50000 samples", {"samples_per_step": 64}, 781),
        ("3h", {"seconds_per_step": 0.5}, 21600),
    ],
)
def test_a_budget_in_any_unit_is_translated_into_steps(budget, rates, steps):
    assert budget_steps(budget, **rates) == steps


@pytest.mark.parametrize(
    "budget, rates, message",
    [
        (
            "2e9 tokens",
            {},
            "cannot be translated into optimizer steps, which the laws count, without the tokens per step: "
            "give tokens_per_step (--tokens-per-step)",
        ),
        (
            "3h",
            {"tokens_per_step": 5},
            "without the seconds per step: give seconds_per_step (--seconds-per-step)",
        ),
        ("10 samples", {"samples_per_step": 64}, "holds no whole step"),
    ],
)
def test_a_budget_the_fit_cannot_translate_is_refused(budget, rates, message):
    with pytest.raises(InvalidInput, match=re.escape(message)):
        budget_steps(budget, **rates)


def test_the_cli_offers_every_family():
    from budgetlr.cli.plan_design import FAMILY_NAMES

    assert FAMILY_NAMES == FAMILIES


def test_the_authors_400m_law_gives_their_optimum_about_11_percent_wsd_decay():
    # Luo et al. optimise a schedule on their fitted 400M law: WSD-like with about 11% decay,
    # predicted 2.689 against 2.757 for their cosine (to 0.1 x peak), 24,000 steps at 3e-4.
    from benchmarks.plan_mpl import AUTHORS_PARAMETERS

    parameters = dict(
        zip(("L0", "A", "alpha", "B", "C", "beta", "gamma"), AUTHORS_PARAMETERS["400"], strict=True)
    )
    authors = Fit("mpl", parameters, 0.0, (RunFit("cosine_24000", 24000, 3e-4, 1, 0.0),), (), 0, 0.0)
    result = design(authors, 24000, 3e-4, ["wsd"], warmup_steps=2160, baselines=["cosine(floor=0.1)"])
    assert result.best.spec == "wsd(decay=0.1, shape=1-sqrt, warmup_steps=2160)"
    assert result.best.final_loss == pytest.approx(2.689, abs=0.001)
    assert result.best.final_loss + result.gains[0].gain == pytest.approx(2.757, abs=0.0015)
