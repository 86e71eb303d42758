"""A third-party workload, as a user would write one (used by the tests via module:attr)."""

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from budgetlr.bench.workloads import ClassificationWorkload
from budgetlr.bench.workloads.quadratic import Quadratic


@dataclass(frozen=True)
class Blobs(ClassificationWorkload):
    name: ClassVar[str] = "blobs"
    full_budget: ClassVar[int] = 100
    batch_size: ClassVar[int] = 16
    lrs: ClassVar[tuple[float, ...]] = (0.01, 0.1)

    centres: int = 3

    def splits(self):
        generator = torch.Generator().manual_seed(0)
        y = torch.randint(0, self.centres, (600,), generator=generator)
        x = torch.randn(600, 2, generator=generator) * 0.5 + torch.stack([y.float(), -y.float()], 1)
        return {"train": (x[:400], y[:400]), "val": (x[400:500], y[400:500]), "test": (x[500:], y[500:])}

    def build_model(self):
        return nn.Linear(2, self.centres)


def make_blobs(centres: str = "4") -> Blobs:
    return Blobs(centres=int(centres))


@dataclass(frozen=True)
class ShortQuadratic(Quadratic):
    """The built-in quadratic with a budget of its own; its ``name`` is still ``quadratic``."""

    full_budget: ClassVar[int] = 100
