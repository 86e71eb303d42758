"""GPU tier: ResNet-18 on CIFAR-10 read from the standard python batches in a local folder."""

from __future__ import annotations

import os
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from budgetlr.bench.workloads.base import Batch, ClassificationWorkload
from budgetlr.errors import InvalidInput

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2470, 0.2435, 0.2616]).view(1, 3, 1, 1)


def read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as handle:
        batch = pickle.load(handle, encoding="bytes")
    return np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32), np.asarray(batch[b"labels"])


@cache
def load_cifar10(folder: str) -> dict[str, Batch]:
    """The python-version batches (``data_batch_1`` .. ``data_batch_5``, ``test_batch``) of
    CIFAR-10 in ``folder``; the last tenth of the training images is the validation split."""
    root = Path(folder)
    train_files = sorted(root.glob("data_batch_*"))
    if not train_files or not (root / "test_batch").is_file():
        raise InvalidInput(f"no CIFAR-10 python batches (data_batch_1.., test_batch) in folder {folder!r}")
    parts = [read_batch(f) for f in train_files]
    x, y = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    x_test, y_test = read_batch(root / "test_batch")
    val = max(1, len(y) // 10)

    def tensors(images: np.ndarray, labels: np.ndarray) -> Batch:
        return torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64))

    return {
        "train": tensors(x[:-val], y[:-val]),
        "val": tensors(x[-val:], y[-val:]),
        "test": tensors(x_test, y_test),
    }


class BasicBlock(nn.Module):
    def __init__(self, inputs: int, outputs: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(
                nn.Conv2d(inputs, outputs, 1, stride, bias=False), nn.BatchNorm2d(outputs)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def resnet18(classes: int = 10) -> nn.Module:
    """ResNet-18 (arXiv 1512.03385) in its CIFAR form: a 3x3 stem and no max-pool."""
    layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    inputs = 64
    for outputs, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        layers += [BasicBlock(inputs, outputs, stride), BasicBlock(outputs, outputs, 1)]
        inputs = outputs
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


@dataclass(frozen=True)
class CifarResNet(ClassificationWorkload):
    """ResNet-18 on CIFAR-10 from a local folder of python batches (``data_dir``, or the
    ``BUDGETLR_CIFAR_DIR`` environment variable); random crops and flips; CUDA when present."""

    name: ClassVar[str] = "cifar-resnet"
    description: ClassVar[str] = "GPU tier: ResNet-18 on CIFAR-10 from local python batches (SGD)"
    full_budget: ClassVar[int] = 15_600
    batch_size: ClassVar[int] = 128
    optimizer: ClassVar[str] = "sgd"
    optimizer_settings: ClassVar[dict[str, object]] = {
        "momentum": 0.9,
        "nesterov": True,
        "weight_decay": 5e-4,
    }
    lrs: ClassVar[tuple[float, ...]] = (0.05, 0.1, 0.2, 0.4)
    gpu_tier: ClassVar[bool] = True

    data_dir: str = ""

    def device(self) -> torch.device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")

    def splits(self) -> dict[str, Batch]:
        folder = self.data_dir or os.environ.get("BUDGETLR_CIFAR_DIR", "")
        if not folder:
            raise InvalidInput(
                "cifar-resnet needs data_dir=FOLDER (or BUDGETLR_CIFAR_DIR) with the CIFAR-10 python batches"
            )
        device = self.device()
        return {k: (normalise(x.to(device)), y.to(device)) for k, (x, y) in load_cifar10(folder).items()}

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        for x, y in super().batches(generator):
            yield augment(x, generator), y

    def build_model(self) -> nn.Module:
        return resnet18()


def normalise(images: Tensor) -> Tensor:
    return (images.float() / 255.0 - MEAN.to(images.device)) / STD.to(images.device)


def augment(x: Tensor, generator: torch.Generator) -> Tensor:
    """Per-image random 32x32 crops of the 4-pixel reflection-padded images, and random flips."""
    n = len(x)
    padded = F.pad(x, (4, 4, 4, 4), mode="reflect")
    rows = torch.randint(0, 9, (n, 1), generator=generator).to(x.device) + torch.arange(32, device=x.device)
    cols = torch.randint(0, 9, (n, 1), generator=generator).to(x.device) + torch.arange(32, device=x.device)
    index = torch.arange(n, device=x.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    flip = (torch.rand(n, generator=generator) < 0.5).to(x.device)[:, None, None, None]
    return torch.where(flip, cropped.flip(3), cropped)
