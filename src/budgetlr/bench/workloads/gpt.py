"""Byte-level GPTs: ``stdlib-gpt`` on the Python standard library's own source (present on every
machine), and ``text-gpt``, the GPU-tier model on any local text corpus (default the same text)."""

from __future__ import annotations

import hashlib
import math
import sysconfig
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from budgetlr.bench.workloads.base import Batch, Evaluation, Workload, standard_error
from budgetlr.errors import InvalidInput


def corpus_files(path: str) -> list[Path]:
    root = Path(path) if path else Path(sysconfig.get_paths()["stdlib"])
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise InvalidInput(f"text corpus {str(root)!r} is neither a file nor a folder")
    pattern = "*.py" if not path else "*"
    return sorted(p for p in root.rglob(pattern) if p.is_file() and "site-packages" not in p.parts)


@cache
def byte_splits(path: str, train_bytes: int, held_out_bytes: int, minimum: int) -> dict[str, Tensor]:
    """Train / val / test bytes. Files go whole to one split (by a hash of their path), so the
    held-out text is unseen; a single file is cut 90 / 5 / 5 instead."""
    files = corpus_files(path)
    parts: dict[str, list[bytes]] = {"train": [], "val": [], "test": []}
    if len(files) == 1:
        data = files[0].read_bytes()
        cut = [0, int(0.9 * len(data)), int(0.95 * len(data)), len(data)]
        for name, lo, hi in zip(parts, cut, cut[1:], strict=False):
            parts[name].append(data[lo:hi])
    else:
        for file in files:
            bucket = zlib.crc32(str(file.relative_to(files[0].anchor)).encode()) % 20
            parts["val" if bucket == 0 else "test" if bucket == 1 else "train"].append(file.read_bytes())
    limits = {"train": train_bytes, "val": held_out_bytes, "test": held_out_bytes}
    out = {
        name: torch.frombuffer(bytearray(b"".join(chunks)[: limits[name]]), dtype=torch.uint8)
        for name, chunks in parts.items()
    }
    if min(len(v) for v in out.values()) < minimum:
        raise InvalidInput(f"text corpus {path or 'stdlib'!r} is too small: each split needs {minimum} bytes")
    return out


def digest(splits: dict[str, Tensor]) -> str:
    """A short hash of tensors' bytes, split by split."""
    hasher = hashlib.sha256()
    for name in sorted(splits):
        hasher.update(name.encode())
        hasher.update(splits[name].cpu().contiguous().numpy().tobytes())
    return hasher.hexdigest()[:16]


class Block(nn.Module):
    """A pre-norm transformer block; ``causal`` attends only to earlier positions (a language
    model), else to all (a classifier)."""

    def __init__(self, width: int, heads: int, causal: bool = True) -> None:
        super().__init__()
        self.heads = heads
        self.causal = causal
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=self.causal)
        x = x + self.proj(attended.transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
    def __init__(self, width: int, layers: int, heads: int, context: int) -> None:
        super().__init__()
        self.embed, self.position = nn.Embedding(256, width), nn.Embedding(context, width)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(layers)))
        self.norm = nn.LayerNorm(width)
        for module in self.modules():  # GPT-2's initialisation; the output head is the tied embedding
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
            if isinstance(module, nn.Linear):
                nn.init.zeros_(module.bias)

    def forward(self, tokens: Tensor) -> Tensor:
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        x = self.blocks(self.embed(tokens) + self.position(positions))
        return self.norm(x) @ self.embed.weight.T


@dataclass(frozen=True)
class StdlibGPT(Workload):
    """A tiny byte-level GPT on the Python standard library's source; metric and loss bits per byte.

    Validation during training reads the first ``eval_windows`` windows of the validation text
    (cheap); the final evaluation reads ``held_out_bytes`` of validation and of test text, in
    windows of ``context + 1`` bytes, and reports the standard error over windows."""

    name: ClassVar[str] = "stdlib-gpt"
    description: ClassVar[str] = "tiny byte-level GPT on the Python stdlib source (AdamW), bits/byte"
    full_budget: ClassVar[int] = 1500
    batch_size: ClassVar[int] = 32
    optimizer_settings: ClassVar[dict[str, Any]] = {"weight_decay": 0.1, "betas": (0.9, 0.95), "eps": 1e-8}
    metric: ClassVar[str] = "bits_per_byte"
    higher_is_better: ClassVar[bool] = False
    lrs: ClassVar[tuple[float, ...]] = (1e-3, 3e-3, 1e-2)
    #: Up to about 2.4 billion parameters over a corpus of up to 1 GB held in memory.
    bounds: ClassVar[dict[str, tuple[float, float]]] = {
        "width": (1, 2048), "layers": (1, 48), "heads": (1, 64), "context": (1, 2048),
        "train_bytes": (1024, 10**9), "eval_windows": (1, 100_000), "held_out_bytes": (2, 10**8),
    }  # fmt: skip

    path: str = ""
    width: int = 64
    layers: int = 2
    heads: int = 4
    context: int = 64
    train_bytes: int = 4_000_000
    eval_windows: int = 128
    held_out_bytes: int = 262_144

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.width % self.heads:
            raise InvalidInput(f"width={self.width} must be a multiple of heads={self.heads}")
        if self.eval_windows < 1 or self.held_out_bytes < self.context + 1:
            raise InvalidInput(f"{self.name} needs eval_windows >= 1 and held_out_bytes >= context + 1")

    @property
    def held_out_windows(self) -> int:
        """Windows of ``context + 1`` bytes, at least ``held_out_bytes`` in all, that the final
        evaluation reads from each held-out split."""
        return max(self.eval_windows, -(-self.held_out_bytes // (self.context + 1)))

    def prepare(self) -> None:
        self.data()

    def data_fingerprint(self) -> str:
        """A digest of the bytes of each split: the stdlib's source changes with Python's version."""
        return digest(
            byte_splits(
                self.path, self.train_bytes, self.held_out_windows * (self.context + 1), self.context + 2
            )
        )

    def data(self) -> dict[str, Tensor]:
        held_out = self.held_out_windows * (self.context + 1)
        splits = byte_splits(self.path, self.train_bytes, held_out, self.context + 2)
        return {k: v.to(self.device()) for k, v in splits.items()}

    def build_model(self) -> nn.Module:
        return GPT(self.width, self.layers, self.heads, self.context)

    def batches(self, generator: torch.Generator) -> Iterator[Batch]:
        train = self.data()["train"]
        offsets = torch.arange(self.context + 1, device=train.device)
        while True:
            starts = torch.randint(
                0, len(train) - self.context - 1, (self.batch_size, 1), generator=generator
            )
            windows = train[starts.to(train.device) + offsets].long()
            yield windows[:, :-1], windows[:, 1:]

    def loss(self, model: Callable[[Tensor], Tensor], batch: Batch) -> Tensor:
        x, y = batch
        return F.cross_entropy(model(x).flatten(0, 1), y.flatten())

    def epochs(self) -> float:
        """Bytes predicted at the full budget over the training split's (windows start anywhere)."""
        return self.full_budget * self.batch_size * self.context / len(self.data()["train"])

    def evaluate(self, model: nn.Module, split: str) -> float:
        return float(self.window_bits(model, split, self.eval_windows).mean())

    def validate(self, model: nn.Module) -> Evaluation:
        bits = self.window_bits(model, "val", self.eval_windows)
        return Evaluation(float(bits.mean()), float(bits.mean()), standard_error(bits))

    def held_out(self, model: nn.Module, split: str) -> Evaluation:
        bits = self.window_bits(model, split, self.held_out_windows)
        return Evaluation(float(bits.mean()), float(bits.mean()), standard_error(bits))

    @torch.no_grad()
    def window_bits(self, model: nn.Module, split: str, windows: int) -> Tensor:
        """Bits per byte of each of the first ``windows`` windows of ``split`` (all windows are the
        same length, so their mean is the split's bits per byte)."""
        data = self.data()[split]
        count = min(windows, len(data) // (self.context + 1))
        tokens = data[: count * (self.context + 1)].view(count, self.context + 1).long()
        model.eval()
        nats = [
            F.cross_entropy(model(w[:, :-1]).transpose(1, 2), w[:, 1:], reduction="none").double().mean(1)
            for w in tokens.split(64)
        ]
        model.train()
        return torch.cat(nats).cpu() / math.log(2)


@dataclass(frozen=True)
class StdlibGPTLong(StdlibGPT):
    """``stdlib-gpt`` trained past its early regime: 5,000 steps of 16 windows of 32 bytes at the
    full budget (2.6 million bytes, about 20 per parameter), so that a study's schedules are
    compared where the loss has settled into its slow phase."""

    name: ClassVar[str] = "stdlib-gpt-long"
    description: ClassVar[str] = "byte-level GPT on the Python stdlib source, 5,000 steps (AdamW), bits/byte"
    full_budget: ClassVar[int] = 5000
    batch_size: ClassVar[int] = 16

    context: int = 32


@dataclass(frozen=True)
class TextGPT(StdlibGPT):
    """GPU tier: a GPT sized for one modern GPU on any local text corpus (``path``: a file or a
    folder; default the Python standard library). Runs on CUDA when present."""

    name: ClassVar[str] = "text-gpt"
    description: ClassVar[str] = "GPU tier: GPT on a local text corpus (default stdlib), bits/byte"
    full_budget: ClassVar[int] = 5000
    batch_size: ClassVar[int] = 64
    lrs: ClassVar[tuple[float, ...]] = (3e-4, 1e-3, 3e-3)
    gpu_tier: ClassVar[bool] = True

    width: int = 384
    layers: int = 6
    heads: int = 6
    context: int = 256
    train_bytes: int = 200_000_000
    eval_windows: int = 512

    def device(self) -> torch.device:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
