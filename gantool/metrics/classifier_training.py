"""Training and testing the digit classifier (what `gantool train-classifier` runs).

Reproducible: one seed drives the initial weights, the shuffling, the augmentation and dropout,
and deterministic algorithms are enforced while it trains (then restored), so the same seed and
options give the same weights on the same machine. Augmentation (small random rotations,
scalings, shears and shifts) is what lets 5,000 bundled digits reach >= 98% on the 10,000 real
MNIST test digits.
"""

from __future__ import annotations

import gzip
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from gantool.errors import GantoolError
from gantool.metrics.digits import DigitClassifier


@dataclass(frozen=True)
class TrainOptions:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0
    max_rotation: float = 12.0  # degrees
    max_shift: float = 2.5  # pixels
    scale_range: float = 0.12  # +-12%
    max_shear: float = 0.15


def augment(x: torch.Tensor, generator: torch.Generator, opts: TrainOptions) -> torch.Tensor:
    """Random affine distortions of a batch of (N, 1, H, W) images in [0, 1]."""
    n, _, h, w = x.shape
    u = torch.rand(n, 5, generator=generator) * 2 - 1  # five uniforms in [-1, 1] per image
    angle = u[:, 0] * math.radians(opts.max_rotation)
    scale = 1 + u[:, 1] * opts.scale_range
    shear = u[:, 2] * opts.max_shear
    tx, ty = u[:, 3] * opts.max_shift * 2 / w, u[:, 4] * opts.max_shift * 2 / h
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos, -sin + shear, tx], 1), torch.stack([sin, cos, ty], 1)], 1
    )
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    opts: TrainOptions,
    log: Callable[[str], None] = lambda _: None,
) -> DigitClassifier:
    """Train a DigitClassifier on uint8 (N, 1, 28, 28) images and int64 labels."""
    return train_network(
        DigitClassifier, images, labels, opts, lambda x, g: augment(x, g, opts), log=log
    )


def train_network(
    build: Callable[[], torch.nn.Module],
    images: torch.Tensor,
    labels: torch.Tensor,
    opts: TrainOptions,
    augment_batch: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
    *,
    class_weights: torch.Tensor | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> torch.nn.Module:
    """Train the classifier `build()` makes on uint8 (N, C, H, W) images (read as x / 255) and
    int64 labels, with `augment_batch(x, generator)` and an optional per-class loss weight.

    Deterministic algorithms are on while it trains and left as they were found afterwards."""
    enabled = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        return _train(build, images, labels, opts, augment_batch, class_weights, log)
    finally:
        torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def _train(build, images, labels, opts: TrainOptions, augment_batch, class_weights, log):
    torch.manual_seed(opts.seed)  # before build(): the seed decides the initial weights
    generator = torch.Generator().manual_seed(opts.seed)
    model = build()
    x_all = images.float() / 255
    optimizer = torch.optim.Adam(model.parameters(), lr=opts.lr)
    steps_per_epoch = math.ceil(len(x_all) / opts.batch_size)
    # Cosine decay to zero: a good final model without looking at any test data.
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=opts.lr, total_steps=opts.epochs * steps_per_epoch, pct_start=0.15
    )
    model.train()
    for epoch in range(opts.epochs):
        order = torch.randperm(len(x_all), generator=generator)
        total, correct, loss_sum = 0, 0, 0.0
        for start in range(0, len(order), opts.batch_size):
            idx = order[start : start + opts.batch_size]
            x = augment_batch(x_all[idx], generator)
            logits = model(x)
            loss = F.cross_entropy(logits, labels[idx], weight=class_weights)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.item() * len(idx)
            correct += (logits.argmax(1) == labels[idx]).sum().item()
            total += len(idx)
        log(
            f"epoch {epoch + 1}/{opts.epochs}: loss {loss_sum / total:.4f}, "
            f"train accuracy (augmented) {correct / total:.4f}"
        )
    return model.eval()


@torch.no_grad()
def accuracy(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of uint8 (N, C, H, W) images (read as x / 255) whose predicted class is the label."""
    model.eval()
    correct = 0
    for start in range(0, len(images), 1000):
        x = images[start : start + 1000].float() / 255
        correct += (model(x).argmax(1) == labels[start : start + 1000]).sum().item()
    return correct / len(images)


def read_mnist_test(directory: str | Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The 10,000 MNIST test digits from the IDX gz files in `directory`: uint8 images, labels."""
    directory = Path(directory)
    images = _read_idx(directory / "t10k-images-idx3-ubyte.gz", magic=2051)
    labels = _read_idx(directory / "t10k-labels-idx1-ubyte.gz", magic=2049)
    if len(images) != len(labels):
        raise GantoolError(f"{directory}: {len(images)} images but {len(labels)} labels")
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def _read_idx(path: Path, magic: int) -> np.ndarray:
    if not path.is_file():
        raise GantoolError(f"MNIST file not found: {path}")
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError) as exc:
        raise GantoolError(f"cannot read {path}: {exc}") from None
    ndim = raw[3]
    header = np.frombuffer(raw, dtype=">i4", count=1 + ndim)
    if header[0] != magic:
        raise GantoolError(f"{path} is not an IDX file of the expected kind (magic {header[0]})")
    shape = tuple(int(d) for d in header[1:])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 * (1 + ndim))
    if data.size != int(np.prod(shape)):
        raise GantoolError(f"{path} is truncated: expected {shape}, got {data.size} bytes")
    return data.reshape(shape).copy()
