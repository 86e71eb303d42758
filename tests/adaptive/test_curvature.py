"""Curvature estimates on problems whose spectrum is known exactly, and the phi rule."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from budgetlr.adaptive.curvature import Spectrum, estimate_spectrum, hessian_operator, lanczos
from budgetlr.adaptive.phi import PHI_GRID, RULE_FITTED_ON, auto_schedule, phi_rule
from budgetlr.bench.curvature import estimate_for_workload
from budgetlr.bench.runner import TrialConfig, run_trial
from budgetlr.bench.suites import SUITES
from budgetlr.bench.workloads import resolve_workload
from budgetlr.schedules import parse

SPECTRUM = torch.logspace(0.0, -3.0, 40, dtype=torch.float64)


class Point(nn.Module):
    """A model whose output is its own parameter vector: loss(w) = w^T diag(SPECTRUM) w / 2."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.randn(SPECTRUM.numel(), dtype=torch.float64))

    def forward(self, x):
        return self.w


def quadratic_loss(forward, batch):
    w = forward(None)
    return 0.5 * (SPECTRUM * w**2).sum()


def test_lanczos_with_as_many_steps_as_dimensions_recovers_the_spectrum_exactly():
    values, weights = lanczos(lambda v: SPECTRUM * v, torch.ones(40, dtype=torch.float64), 40)
    assert np.sort(values) == pytest.approx(np.sort(SPECTRUM.numpy()), rel=1e-6)
    assert weights.sum() == pytest.approx(1.0)
    assert weights == pytest.approx(np.full(40, 1 / 40), rel=1e-5)  # a flat probe weighs all equally


def test_estimate_on_a_known_quadratic_gets_the_extremes_and_the_mean_curvature():
    exact = estimate_spectrum(Point(), quadratic_loss, None, iterations=40, probes=1)
    assert exact.top == pytest.approx(1.0, rel=1e-6)
    assert exact.values.min() == pytest.approx(1e-3, rel=1e-4)
    # Rademacher probes weigh every eigenvector equally in expectation: low = mean eigenvalue.
    assert exact.low == pytest.approx(float(SPECTRUM.mean()), rel=1e-6)
    few = estimate_spectrum(Point(), quadratic_loss, None, iterations=12, probes=4)
    assert few.top == pytest.approx(1.0, rel=1e-3)  # the top converges first
    assert few.kappa == pytest.approx(float(SPECTRUM.max() / SPECTRUM.mean()), rel=0.3)


def test_hessian_vector_products_match_the_explicit_hessian_of_a_network():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x, y = torch.randn(8, 3, dtype=torch.float64), torch.randint(0, 2, (8,))

    def loss(forward, batch):
        return nn.functional.cross_entropy(forward(batch[0]), batch[1])

    matvec, dim = hessian_operator(model, loss, (x, y))
    assert dim == sum(p.numel() for p in model.parameters())
    flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    shapes = [p.shape for p in model.parameters()]

    def as_function(vector):
        tensors, start = {}, 0
        for (name, _), shape in zip(model.named_parameters(), shapes, strict=True):
            size = math.prod(shape)
            tensors[name] = vector[start : start + size].view(shape)
            start += size
        return nn.functional.cross_entropy(torch.func.functional_call(model, tensors, (x,)), y)

    hessian = torch.autograd.functional.hessian(as_function, flat)
    v = torch.randn(dim, dtype=torch.float64)
    assert matvec(v) == pytest.approx(hessian @ v, abs=1e-10)


def test_the_estimate_of_a_workload_is_deterministic_and_leaves_the_model_unchanged():
    workload = resolve_workload("quadratic")
    torch.manual_seed(0)
    model = workload.build_model()
    before = [p.detach().clone() for p in model.parameters()]
    first = estimate_for_workload(workload, model=model)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert model.training
    second = estimate_for_workload(workload, seed=0)
    assert first == Spectrum(first.values, first.weights) and np.array_equal(first.values, second.values)
    assert first.top > first.low > 0


# log2(phi) = 1 + 4 log10(T) - 12.5 log10(kappa), by hand: at T = 500 and kappa = 7,
# 1 + 10.79588 - 10.56373 = 1.23215, phi = 2.3492; at T = 200 and kappa = 6, 0.47723, phi = 1.3921.
@pytest.mark.parametrize(
    "steps, kappa, phi", [(500, 7.0, 2.3492), (200, 6.0, 1.3921), (100, 10.0, 0.25), (10_000, 2.0, 8.0)]
)
def test_phi_rule_reference_values(steps, kappa, phi):
    assert phi_rule(steps, kappa) == pytest.approx(phi, abs=1e-4)


def test_no_suite_scores_phi_auto_on_a_quadratic_the_rule_was_fitted_on():
    scored = {
        resolve_workload(workload).kappa
        for suite in SUITES.values()
        for part in suite.sweeps()
        for workload in part.workloads
        if workload.startswith("quadratic")
    }
    assert scored == {100.0, 10_000.0}
    assert scored.isdisjoint(RULE_FITTED_ON)


def test_phi_rule_grows_with_the_budget_falls_with_kappa_and_stays_in_range():
    by_steps = [phi_rule(t, 4.0) for t in (100, 300, 1000, 3000)]
    by_kappa = [phi_rule(300, k) for k in (3.0, 4.0, 5.0, 6.0)]
    assert by_steps == sorted(by_steps) and by_kappa == sorted(by_kappa, reverse=True)
    assert all(PHI_GRID[0] <= phi <= PHI_GRID[-1] for phi in by_steps + by_kappa)
    with pytest.raises(ValueError, match="kappa"):
        phi_rule(100, math.nan)


def test_auto_schedule_resolves_uba_phi_auto_for_a_model():
    schedule, why = auto_schedule("uba(phi=auto, warmup=0.05)", Point(), quadratic_loss, None, 1000)
    assert schedule == parse({"name": "uba", "phi": why.phi, "warmup": 0.05})
    assert why.phi == phi_rule(1000, why.kappa) and "kappa" in why.explain()
    with pytest.raises(ValueError, match="uba\\(phi=auto"):
        auto_schedule("cosine", Point(), quadratic_loss, None, 1000)


def test_uba_phi_auto_outside_the_benchmark_points_to_auto_schedule():
    with pytest.raises(ValueError, match="auto_schedule"):
        parse("uba(phi=auto)")


@pytest.mark.slow
def test_a_benchmark_trial_of_uba_phi_auto_measures_and_records_its_choice():
    result = run_trial(TrialConfig("quadratic", "uba(phi=auto, warmup=0.05)", 0.05, 0.3, 0))
    notes = result.notes
    assert notes["phi"] == phi_rule(100, notes["kappa"]) and notes["total_steps"] == 100
    expected = run_trial(TrialConfig("quadratic", f"uba(phi={notes['phi']!r}, warmup=0.05)", 0.05, 0.3, 0))
    assert result.test_metric == expected.test_metric
