"""The quadratic workload with a gate in front of every trial, so that a test stops a sweep at a
moment of its choosing instead of racing it.

With ``BUDGETLR_TEST_GATE`` naming a folder, each trial takes the next numbered ticket there as it
starts; the first ``BUDGETLR_TEST_GATE_PASSES`` tickets go through and the others wait, mid-trial,
until the folder holds a file named ``open``. Without the variable it is the plain quadratic.
"""

import itertools
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch

from budgetlr.bench.workloads.base import Batch
from budgetlr.bench.workloads.quadratic import Quadratic

GATE = "BUDGETLR_TEST_GATE"
PASSES = "BUDGETLR_TEST_GATE_PASSES"


def tickets_taken(gate: Path) -> int:
    return len(list(gate.glob("ticket-*")))


def take_ticket(gate: Path) -> int:
    for number in itertools.count():
        try:
            os.close(os.open(gate / f"ticket-{number}", os.O_CREAT | os.O_EXCL))
            return number
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def pass_gate() -> None:
    if GATE not in os.environ:
        return
    gate = Path(os.environ[GATE])
    if take_ticket(gate) >= int(os.environ[PASSES]):
        while not (gate / "open").exists():
            time.sleep(0.05)


@dataclass(frozen=True)
class GatedQuadratic(Quadratic):
    name: ClassVar[str] = "gated-quadratic"

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        pass_gate()
        yield from super().batches(generator)
