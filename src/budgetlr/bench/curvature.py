"""The curvature of a workload's model: what ``uba(phi=auto)`` and ``budgetlr suggest-phi`` measure."""

from __future__ import annotations

import math

import torch
from torch import nn

from budgetlr.adaptive.curvature import Spectrum, concatenate, estimate_spectrum
from budgetlr.adaptive.phi import Suggestion, suggest_phi
from budgetlr.bench.workloads.base import Workload

#: Examples averaged into each Hessian-vector product of a workload's curvature estimate.
ESTIMATE_EXAMPLES = 512
#: Seeds the batches of curvature estimates, apart from any trial's own batch stream.
ESTIMATE_SEED = 2_147_483_647


def estimate_for_workload(workload: Workload, seed: int = 0, model: nn.Module | None = None) -> Spectrum:
    """The curvature spectrum of ``workload``'s model at initialisation (seeded by ``seed`` unless
    a ``model`` is given), its loss averaged over :data:`ESTIMATE_EXAMPLES` training examples."""
    workload.prepare()
    if model is None:
        torch.manual_seed(seed)
        model = workload.build_model().to(workload.device())
    batches = workload.batches(torch.Generator().manual_seed(ESTIMATE_SEED))
    count = math.ceil(ESTIMATE_EXAMPLES / workload.batch_size)
    inputs, targets = concatenate([next(batches) for _ in range(count)])
    return estimate_spectrum(model, workload.loss, (inputs, targets))


def suggest_for_workload(workload: Workload, model: nn.Module, total_steps: int) -> Suggestion:
    return suggest_phi(estimate_for_workload(workload, model=model), total_steps)
