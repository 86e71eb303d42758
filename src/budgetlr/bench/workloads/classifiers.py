"""Small CNNs on real or locally generated digits: ``mnist1d-cnn`` and ``digits-cnn``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from budgetlr.bench.workloads.base import Batch, ClassificationWorkload


def split_arrays(x: np.ndarray, y: np.ndarray, val: int, test: int, seed: int) -> dict[str, Batch]:
    order = np.random.default_rng(seed).permutation(len(y))
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {
        k: (torch.as_tensor(x[i], dtype=torch.float32), torch.as_tensor(y[i], dtype=torch.long))
        for k, i in parts.items()
    }


@cache
def mnist1d_splits(samples: int) -> dict[str, Batch]:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset is the generator itself: no download and no file written (get_dataset does both).
    args = get_dataset_args()
    args.num_samples = samples
    data = make_dataset(args)
    x = np.concatenate([data["x"], data["x_test"]])[:, None, :]
    y = np.concatenate([data["y"], data["y_test"]])
    return split_arrays(x, y, val=samples // 8, test=samples // 5, seed=0)


@dataclass(frozen=True)
class Mnist1dCNN(ClassificationWorkload):
    """A 1-D CNN on MNIST-1D (Greydanus, arXiv 2011.14439), generated locally with its generator."""

    name: ClassVar[str] = "mnist1d-cnn"
    description: ClassVar[str] = "1-D CNN on MNIST-1D generated locally (AdamW)"
    full_budget: ClassVar[int] = 1200
    batch_size: ClassVar[int] = 64
    optimizer_settings: ClassVar[dict[str, float]] = {"weight_decay": 0.01}
    lrs: ClassVar[tuple[float, ...]] = (1e-2, 3e-2, 1e-1)
    bounds: ClassVar[dict[str, tuple[float, float]]] = {"samples": (100, 1_000_000), "width": (1, 1024)}

    samples: int = 20000
    width: int = 32

    def splits(self) -> dict[str, Batch]:
        return mnist1d_splits(self.samples)

    def build_model(self) -> nn.Module:
        w = self.width
        return nn.Sequential(
            nn.Conv1d(1, w, 5, padding=2), nn.ReLU(),
            nn.Conv1d(w, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv1d(w, w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(w * 10, 10),
        )  # fmt: skip


@cache
def digits_splits() -> dict[str, Batch]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    return split_arrays(digits.images[:, None] / 16.0, digits.target, val=360, test=360, seed=0)


@dataclass(frozen=True)
class DigitsCNN(ClassificationWorkload):
    """A small CNN on scikit-learn's bundled handwritten digits (1,797 real 8x8 images)."""

    name: ClassVar[str] = "digits-cnn"
    description: ClassVar[str] = "small CNN on scikit-learn's 8x8 handwritten digits (AdamW)"
    full_budget: ClassVar[int] = 600
    batch_size: ClassVar[int] = 32
    optimizer_settings: ClassVar[dict[str, float]] = {"weight_decay": 0.01}
    lrs: ClassVar[tuple[float, ...]] = (3e-3, 1e-2, 3e-2)

    def splits(self) -> dict[str, Batch]:
        return digits_splits()

    def build_model(self) -> nn.Module:
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(32 * 16, 10),
        )  # fmt: skip
