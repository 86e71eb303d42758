"""What a workload declares, and the shared pieces of the built-in ones.

A workload is a frozen dataclass whose fields are its parameters, written as a spec string like a
schedule: ``quadratic(kappa=1000, noise=0.5)``. Its data are fixed by the workload (its own data
seed); a trial's seed drives the model's initialisation and the order of the batches.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import torch
from torch import Tensor, nn

from budgetlr.errors import InvalidInput
from budgetlr.spec import coerce, format_spec

Batch = tuple[Tensor, Tensor]


class Evaluation(NamedTuple):
    """A model's final score on a held-out split: the task metric, and the held-out loss with the
    standard error of its mean over the split's independent units (examples, or sequences for a
    language model), the evaluation's own sampling noise. ``loss`` is None where the workload does
    not define one."""

    metric: float
    loss: float | None = None
    loss_se: float | None = None


class Refinement(NamedTuple):
    #: the ``optimizer`` of the ``refined`` schedule family: ``"sgd"`` or ``"adam"``
    optimizer: str
    #: the gradient norm it refines: ``"l2"`` or ``"l1"``
    norm: str


@dataclass(frozen=True)
class Workload:
    """Base of every workload. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: Steps of the full budget; a trial at budget fraction f trains round(f * full_budget) steps.
    full_budget: ClassVar[int] = 1000
    batch_size: ClassVar[int] = 64
    #: ``"sgd"`` or ``"adamw"``, with its settings (the LR comes from the trial).
    optimizer: ClassVar[str] = "adamw"
    optimizer_settings: ClassVar[dict[str, Any]] = {}
    metric: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True
    #: The default peak-LR grid, log-spaced.
    lrs: ClassVar[tuple[float, ...]] = (1e-3, 3e-3, 1e-2)
    #: Built-in workloads of the GPU tier are left out of the CPU suites.
    gpu_tier: ClassVar[bool] = False
    #: The range of each numeric key, ``{"dim": (1, 100_000)}``: a workload's size is bounded
    #: before anything is made, so that a typo cannot ask for more memory than a machine has.
    bounds: ClassVar[dict[str, tuple[float, float]]] = {}

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            object.__setattr__(
                self, field.name, coerce(field.name, getattr(self, field.name), hints[field.name])
            )
        for key, (low, high) in self.bounds.items():
            value = getattr(self, key)
            if not low <= value <= high:
                raise InvalidInput(
                    f"{self.name}: {key} must be in [{low:g}, {high:g}] (its bound), got {value:g}"
                )

    def __str__(self) -> str:
        """The workload's spec, its identity in the results database (see
        :func:`budgetlr.bench.workloads.origin`)."""
        from budgetlr.bench.workloads import origin

        keys = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }
        return format_spec(origin(type(self)), keys)

    # -- what a workload implements --------------------------------------------------------
    def data_fingerprint(self) -> str:
        """What the workload's data depend on beyond its spec, as a short digest; part of every
        trial's key. Empty when the spec alone determines the data (generated or bundled data);
        a workload that reads files from outside returns a digest of what it read."""
        return ""

    def prepare(self) -> None:
        """Load or generate the data (cached), so that a trial's clock does not count it."""

    def device(self) -> torch.device:
        return torch.device("cpu")

    def build_model(self) -> nn.Module:
        """A freshly initialised model (the runner seeds torch before calling this)."""
        raise NotImplementedError

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        """An endless stream of training batches for one trial, drawn with ``generator``."""
        raise NotImplementedError

    def loss(self, model: Callable[[Tensor], Tensor], batch: Batch) -> Tensor:
        """The training loss of ``model`` on ``batch`` (a scalar tensor)."""
        raise NotImplementedError

    def epochs(self) -> float | None:
        """Passes over the training data at the full budget; None where every step draws fresh
        data. A workload that reads a finite training set overrides it."""
        return None

    def evaluate(self, model: nn.Module, split: str) -> float:
        """The metric of ``model`` on ``split`` (``"val"`` or ``"test"``); it may use part of the
        split to stay cheap, as it runs during training."""
        raise NotImplementedError

    def validate(self, model: nn.Module) -> Evaluation:
        """The validation during training (at least :data:`~budgetlr.bench.runner.VAL_POINTS`
        times a trial): the metric, and the loss where the workload defines one. The default is
        :meth:`held_out` on ``"val"``; a workload whose split is costly to read overrides it."""
        return self.held_out(model, "val")

    def held_out(self, model: nn.Module, split: str) -> Evaluation:
        """The final evaluation on the whole of ``split``: the metric and the held-out loss (the
        study's primary measure). A workload that defines no loss inherits this metric-only one."""
        return Evaluation(self.evaluate(model, split))

    @property
    def refinement(self) -> Refinement:
        """How refinement (arXiv 2310.07831) treats this workload's optimizer: SGD with the l2
        norm of the gradient, or Adam-type with the l1 norm. A linear-decay trial records that norm at
        every step."""
        return Refinement("sgd", "l2") if self.optimizer == "sgd" else Refinement("adam", "l1")

    def optimizer_text(self) -> str:
        """The optimizer every method of a trial on this workload runs, as a reader would write it:
        ``SGD(momentum=0.9, weight_decay=0.0005)``; schedule-free runs its counterpart with the same
        settings (:func:`budgetlr.bench.methods.schedule_free_counterpart`)."""
        settings = ", ".join(f"{key}={value}" for key, value in self.optimizer_settings.items())
        return f"{'SGD' if self.optimizer == 'sgd' else 'AdamW'}({settings})"

    def make_optimizer(self, params: typing.Iterable[Tensor], lr: float) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, **self.optimizer_settings)
        return torch.optim.AdamW(params, lr=lr, **self.optimizer_settings)


@dataclass(frozen=True)
class ClassificationWorkload(Workload):
    """A classifier trained with cross-entropy on in-memory tensors; the metric is accuracy."""

    metric: ClassVar[str] = "accuracy"
    higher_is_better: ClassVar[bool] = True

    def splits(self) -> dict[str, Batch]:
        """``{"train": (x, y), "val": (x, y), "test": (x, y)}``, the same on every call."""
        raise NotImplementedError

    def prepare(self) -> None:
        self.splits()

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        """Shuffled epochs of the training split; a short last batch is dropped."""
        x, y = self.splits()["train"]
        size = min(self.batch_size, len(y))
        while True:
            order = torch.randperm(len(y), generator=generator).to(y.device)
            for start in range(0, len(y) - size + 1, size):
                index = order[start : start + size]
                yield x[index], y[index]

    def loss(self, model: Callable[[Tensor], Tensor], batch: Batch) -> Tensor:
        x, y = batch
        return nn.functional.cross_entropy(model(x), y)

    def train_examples(self) -> int:
        """The examples of the training split."""
        return len(self.splits()["train"][1])

    def epochs(self) -> float:
        examples = self.train_examples()
        return self.full_budget * min(self.batch_size, examples) / examples

    def evaluate(self, model: nn.Module, split: str) -> float:
        return self.held_out(model, split).metric

    @torch.no_grad()
    def held_out(self, model: nn.Module, split: str) -> Evaluation:
        """Accuracy, and the mean cross-entropy (nats) over the split's examples with its standard error."""
        x, y = self.splits()[split]
        model.eval()
        logits = torch.cat([model(x[i : i + 1024]) for i in range(0, len(y), 1024)])
        model.train()
        losses = nn.functional.cross_entropy(logits.double(), y, reduction="none")
        accuracy = float((logits.argmax(1) == y).double().mean())
        return Evaluation(accuracy, float(losses.mean()), standard_error(losses))


def standard_error(values: Tensor) -> float:
    """The standard error of the mean of ``values`` (sample standard deviation / sqrt(n))."""
    return float(values.double().std(correction=1) / len(values) ** 0.5) if len(values) > 1 else 0.0
