from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import torch
from torch import Tensor, nn

from budgetlr.bench.workloads.base import Batch, Evaluation, Workload, standard_error

VALIDATION_SAMPLES = 4096
VALIDATION_SEED = 4321


@dataclass(frozen=True)
class Quadratic(Workload):
    """Noisy least squares with a chosen condition number: the setting UBA's theory speaks about.

    Features ``x ~ N(0, diag(lambda))`` with eigenvalues log-spaced from 1 down to ``1 / kappa``;
    targets ``y = x . w* + noise * eps``; a linear model from ``w = 0`` trained by SGD with momentum
    0.9 (schedule-free SGD's, so every method shares it) on fresh samples every step. The metric, and the held-out loss, is the excess risk
    ``(w - w*)^T diag(lambda) (w - w*) / 2``: on test its exact population value, with no sampling
    noise; on validation its estimate ``mean((x . (w - w*))^2) / 2`` over a separate, fixed draw of
    :data:`VALIDATION_SAMPLES` inputs, so that an LR is tuned on another number than the one reported.
    """

    name: ClassVar[str] = "quadratic"
    description: ClassVar[str] = "noisy least squares, condition number kappa (SGD, momentum 0.9)"
    full_budget: ClassVar[int] = 2000
    batch_size: ClassVar[int] = 16
    optimizer: ClassVar[str] = "sgd"
    metric: ClassVar[str] = "excess_risk"
    higher_is_better: ClassVar[bool] = False
    optimizer_settings: ClassVar[dict[str, object]] = {"momentum": 0.9, "weight_decay": 0.0}
    lrs: ClassVar[tuple[float, ...]] = (0.01, 0.03, 0.1)
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "kappa": (1, 1e12), "noise": (0, 1e6), "dim": (1, 100_000)
    }  # fmt: skip

    kappa: float = 100.0
    noise: float = 0.5
    dim: int = 50

    @cached_property
    def spectrum(self) -> Tensor:
        return torch.logspace(0.0, -math.log10(self.kappa), self.dim, dtype=torch.float64).float()

    @cached_property
    def optimum(self) -> Tensor:
        return torch.randn(self.dim, generator=torch.Generator().manual_seed(1234))

    def build_model(self) -> nn.Module:
        model = nn.Linear(self.dim, 1, bias=False)
        nn.init.zeros_(model.weight)
        return model

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        scale = self.spectrum.sqrt()
        while True:
            x = torch.randn(self.batch_size, self.dim, generator=generator) * scale
            eps = torch.randn(self.batch_size, generator=generator)
            yield x, x @ self.optimum + self.noise * eps

    def loss(self, model: Callable[[Tensor], Tensor], batch: Batch) -> Tensor:
        x, y = batch
        return 0.5 * ((model(x).squeeze(1) - y) ** 2).mean()

    def evaluate(self, model: nn.Module, split: str) -> float:
        return self.held_out(model, split).metric

    @torch.no_grad()
    def held_out(self, model: nn.Module, split: str) -> Evaluation:
        error = model.get_parameter("weight").squeeze(0).double() - self.optimum.double()
        scaled = self.spectrum.double().sqrt() * error
        if split == "test":
            risk = float(0.5 * (scaled**2).sum())
            return Evaluation(risk, risk, 0.0)
        # x . e = z . (sqrt(lambda) e) with z standard normal: the draw is made chunk by chunk, the
        # same on every call, so a large ``dim`` needs no more memory than one chunk.
        generator = torch.Generator().manual_seed(VALIDATION_SEED)
        losses = torch.cat([
            0.5 * (torch.randn(size, self.dim, generator=generator).double() @ scaled) ** 2
            for size in chunks(VALIDATION_SAMPLES, 512)
        ])  # fmt: skip
        return Evaluation(float(losses.mean()), float(losses.mean()), standard_error(losses))


def chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]
