"""Small classifiers on locally generated or bundled data: on MNIST-1D a 1-D CNN, an MLP, a GRU
and a transformer; on scikit-learn's 8x8 digits a 2-D CNN."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from budgetlr.bench.workloads.base import Batch, ClassificationWorkload
from budgetlr.bench.workloads.gpt import Block
from budgetlr.errors import InvalidInput

#: Every built-in workload names each setting of its optimizer, so that a schedule-free trial
#: takes the same ones (see :func:`budgetlr.bench.methods.make_optimizer`).
ADAMW: dict[str, object] = {"weight_decay": 0.01, "betas": (0.9, 0.999), "eps": 1e-8}
SGD_MOMENTUM: dict[str, object] = {"momentum": 0.9, "weight_decay": 5e-4}


def split_arrays(x: np.ndarray, y: np.ndarray, val: int, test: int, seed: int) -> dict[str, Batch]:
    order = np.random.default_rng(seed).permutation(len(y))
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {
        k: (torch.as_tensor(x[i], dtype=torch.float32), torch.as_tensor(y[i], dtype=torch.long))
        for k, i in parts.items()
    }


def mnist1d_held_out(samples: int) -> tuple[int, int]:
    """The validation and test examples of MNIST-1D's ``samples``; the rest train."""
    return samples // 8, samples // 5


@cache
def mnist1d_splits(samples: int) -> dict[str, Batch]:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset is the generator itself: no download and no file written (get_dataset does both).
    args = get_dataset_args()
    args.num_samples = samples
    data = make_dataset(args)
    x = np.concatenate([data["x"], data["x_test"]])[:, None, :]
    y = np.concatenate([data["y"], data["y_test"]])
    val, test = mnist1d_held_out(samples)
    return split_arrays(x, y, val=val, test=test, seed=0)


@dataclass(frozen=True)
class Mnist1dCNN(ClassificationWorkload):
    """A 1-D CNN on MNIST-1D (Greydanus, arXiv 2011.14439), generated locally with its generator."""

    name: ClassVar[str] = "mnist1d-cnn"
    description: ClassVar[str] = "1-D CNN on MNIST-1D generated locally (AdamW)"
    full_budget: ClassVar[int] = 1200
    batch_size: ClassVar[int] = 64
    optimizer_settings: ClassVar[dict[str, object]] = ADAMW
    lrs: ClassVar[tuple[float, ...]] = (1e-2, 3e-2, 1e-1)
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"samples": (100, 1_000_000), "width": (1, 1024)}

    samples: int = 20000
    width: int = 32

    def splits(self) -> dict[str, Batch]:
        return mnist1d_splits(self.samples)

    def train_examples(self) -> int:
        return self.samples - sum(mnist1d_held_out(self.samples))  # without generating the data

    def build_model(self) -> nn.Module:
        w = self.width
        return nn.Sequential(
            nn.Conv1d(1, w, 5, padding=2), nn.ReLU(),
            nn.Conv1d(w, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(w, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(w * 10, 10),
        )  # fmt: skip


@dataclass(frozen=True)
class Mnist1dMLP(Mnist1dCNN):
    """A two-hidden-layer ReLU MLP on MNIST-1D, trained by SGD with momentum."""

    name: ClassVar[str] = "mnist1d-mlp"
    description: ClassVar[str] = "MLP on MNIST-1D generated locally (SGD, momentum 0.9)"
    full_budget: ClassVar[int] = 2000
    optimizer: ClassVar[str] = "sgd"
    optimizer_settings: ClassVar[dict[str, object]] = SGD_MOMENTUM
    lrs: ClassVar[tuple[float, ...]] = (0.01, 0.03, 0.1)

    width: int = 256

    def build_model(self) -> nn.Module:
        w = self.width
        return nn.Sequential(
            nn.Flatten(), nn.Linear(40, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 10)
        )  # fmt: skip


class GRUClassifier(nn.Module):
    """A GRU reading a signal as a sequence of ``chunk``-sample steps; its last state classifies."""

    def __init__(self, width: int, chunk: int) -> None:
        super().__init__()
        self.chunk = chunk
        self.rnn = nn.GRU(chunk, width, batch_first=True)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        states, _ = self.rnn(x.reshape(len(x), -1, self.chunk))
        return self.head(states[:, -1])


@dataclass(frozen=True)
class Mnist1dGRU(Mnist1dCNN):
    """A recurrent classifier on MNIST-1D: a GRU over the signal in steps of 4 samples."""

    name: ClassVar[str] = "mnist1d-gru"
    description: ClassVar[str] = "GRU on MNIST-1D generated locally (AdamW)"
    full_budget: ClassVar[int] = 2000

    width: int = 64

    def build_model(self) -> nn.Module:
        return GRUClassifier(self.width, 4)


class PatchTransformer(nn.Module):
    """A transformer encoder over patches of ``patch`` samples, mean-pooled into a linear head."""

    def __init__(self, width: int, layers: int, patch: int) -> None:
        super().__init__()
        self.patch = patch
        self.embed = nn.Linear(patch, width)
        self.position = nn.Parameter(torch.zeros(40 // patch, width))
        self.blocks = nn.Sequential(*(Block(width, 4, causal=False) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.embed(x.reshape(len(x), -1, self.patch)) + self.position
        return self.head(self.norm(self.blocks(tokens)).mean(1))


@dataclass(frozen=True)
class Mnist1dTransformer(Mnist1dCNN):
    """Attention on signals: a two-block transformer over MNIST-1D in patches of 4 samples."""

    name: ClassVar[str] = "mnist1d-transformer"
    description: ClassVar[str] = "transformer on MNIST-1D patches, generated locally (AdamW)"
    full_budget: ClassVar[int] = 1200
    lrs: ClassVar[tuple[float, ...]] = (1e-3, 3e-3, 1e-2)
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "samples": (100, 1_000_000), "width": (4, 1024), "layers": (1, 24)
    }  # fmt: skip

    width: int = 32
    layers: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % 4:
            raise InvalidInput(f"{self.name}: width={self.width} must be a multiple of its 4 heads")

    def build_model(self) -> nn.Module:
        return PatchTransformer(self.width, self.layers, 4)


@cache
def digits_splits() -> dict[str, Batch]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return split_arrays(digits.images[:, None] / 16.0, digits.target, val=360, test=360, seed=0)


@dataclass(frozen=True)
class DigitsCNN(ClassificationWorkload):
    """A small CNN on scikit-learn's bundled handwritten digits (1,797 real 8x8 images)."""

    name: ClassVar[str] = "digits-cnn"
    description: ClassVar[str] = "small CNN on scikit-learn's 8x8 handwritten digits (SGD, momentum 0.9)"
    full_budget: ClassVar[int] = 1000
    batch_size: ClassVar[int] = 32
    optimizer: ClassVar[str] = "sgd"
    optimizer_settings: ClassVar[dict[str, object]] = SGD_MOMENTUM
    lrs: ClassVar[tuple[float, ...]] = (0.01, 0.03, 0.1)

    def splits(self) -> dict[str, Batch]:
        return digits_splits()

    def build_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 16, 10),
        )  # fmt: skip
