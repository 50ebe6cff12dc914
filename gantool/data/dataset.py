"""The in-memory `Dataset` every loader returns, and the one entry point `load_dataset`."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from gantool import registry
from gantool.errors import UsageError

CHANNELS = (1, 3, 4)  # grey, RGB, RGBA (alpha kept: image folders, --channels 4)


class Dataset:
    """A whole dataset in memory, so batches are one indexing operation.

    Images: `data` is uint8 (N, C, H, W). 2-D (or D-dim) points: float32 (N, D).
    `labels` int64 (N,) or None; `num_classes` 0 when unlabelled. `modes` (K, D) and
    `mode_std` describe the Gaussian mixtures (for mode coverage); None otherwise.
    """

    def __init__(
        self,
        data: torch.Tensor,
        labels: torch.Tensor | None = None,
        *,
        num_classes: int = 0,
        modes: torch.Tensor | None = None,
        mode_std: float | None = None,
        name: str = "",
    ) -> None:
        if data.dtype == torch.uint8:
            if data.ndim != 4 or data.shape[1] not in CHANNELS:
                raise UsageError(
                    f"images must be (N, C, H, W) with C 1, 3 or 4, got {tuple(data.shape)}"
                )
        elif data.dtype == torch.float32:
            if data.ndim != 2:
                raise UsageError(f"points must be (N, D), got {tuple(data.shape)}")
        else:
            raise UsageError(
                f"dataset data must be uint8 images or float32 points, got {data.dtype}"
            )
        if len(data) == 0:
            raise UsageError(f"dataset {name!r} is empty" if name else "the dataset is empty")
        if labels is not None:
            labels = labels.to(torch.int64)
            if labels.shape != (len(data),):
                raise UsageError(f"labels must be ({len(data)},), got {tuple(labels.shape)}")
        self.data = data.contiguous()
        self.labels = labels
        self.num_classes = int(num_classes) if labels is not None else 0
        self.modes = modes
        self.mode_std = mode_std
        self.name = name

    @property
    def is_image(self) -> bool:
        return self.data.dtype == torch.uint8

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        kind = "images" if self.is_image else "points"
        return (
            f"Dataset({self.name!r}, {len(self)} {kind} of shape {self.sample_shape}, "
            f"{self.num_classes} classes)"
        )

    def subset(self, n: int) -> Dataset:
        """A seeded random `n` of the samples (seed 0, so every training seed sees the same ones),
        with their labels: numpy's default_rng(0).choice(len(self), n, replace=False)."""
        import numpy as np

        if not 1 <= n <= len(self):
            raise UsageError(f"--subset {n}: dataset {self.name or 'the data'} has {len(self)} "
                             f"samples; give 1 to {len(self)}")
        pick = torch.from_numpy(np.random.default_rng(0).choice(len(self), n, replace=False))
        return Dataset(self.data[pick], None if self.labels is None else self.labels[pick],
                       num_classes=self.num_classes, modes=self.modes, mode_std=self.mode_std,
                       name=self.name)

    def to_model(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 images -> float32 in [-1, 1]; points pass through."""
        if x.dtype == torch.uint8:
            return x.to(torch.float32).div_(127.5).sub_(1.0)
        return x

    def from_model(self, x: torch.Tensor) -> torch.Tensor:
        """The inverse of to_model: floats in [-1, 1] -> uint8 (clamped, rounded); points pass."""
        if not self.is_image:
            return x
        return ((x.detach().clamp(-1.0, 1.0) + 1.0) * 127.5).round_().to(torch.uint8)


# The options every dataset factory accepts (see docs/architecture.md).
COMMON_OPTIONS = ("root", "image_size", "channels", "download", "seed")


def load_dataset(name: str, **options) -> Dataset:
    """Load a registered dataset by name; None-valued options keep the dataset's defaults."""
    options = {k: v for k, v in options.items() if v is not None}
    for key in ("image_size", "channels"):
        if key in options and (not isinstance(options[key], int) or options[key] < 1):
            raise UsageError(f"{key} must be a positive integer, got {options[key]!r}")
    if options.get("channels") not in (None, *CHANNELS):
        raise UsageError(f"channels must be 1, 3 or 4, got {options['channels']}")
    dataset = registry.create("dataset", name, **options)
    if not dataset.name:
        dataset.name = name
    return dataset


def cache_dir() -> Path:
    """Where downloaded / converted data is cached: $GANTOOL_CACHE or ~/.cache/gantool."""
    return Path(os.environ.get("GANTOOL_CACHE") or Path.home() / ".cache" / "gantool")


def reject_image_options(name: str, image_size: int | None, channels: int | None) -> None:
    """Point datasets have no image size or channels; say so instead of ignoring the option."""
    for option, value in (("image_size", image_size), ("channels", channels)):
        if value is not None:
            raise UsageError(f"dataset {name!r} is 2-D points; option {option} does not apply")
