"""`stacked-mnist`: three random MNIST digits as the R, G and B channels (1000 modes).

The mode-collapse benchmark of Metz et al. 2017 (Unrolled GAN), also used by VEEGAN and PacGAN.
Each sample picks three digits independently and uniformly (numpy generator seeded by `seed`);
its label is 100*d0 + 10*d1 + d2, so a model covering the data hits all 1000 labels.
"""

from __future__ import annotations

import numpy as np
import torch

from gantool.data.convert import to_size
from gantool.data.dataset import Dataset
from gantool.errors import UsageError
from gantool.registry import register

DEFAULT_SIZE = 50_000
SOURCES = ("mnist-5k", "mnist")


@register("dataset", "stacked-mnist", "3 random digits as RGB channels, 1000 modes (Unrolled GAN)")
def stacked_mnist(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
    source: str = "mnist-5k",
) -> Dataset:
    """`source`: the digits, mnist-5k (bundled) or mnist (torchvision, uses root/download)."""
    from gantool.data.dataset import load_dataset

    if channels not in (None, 3):
        raise UsageError("stacked-mnist is 3-channel by construction; channels must be 3")
    if not isinstance(size, int) or size < 1:
        raise UsageError(f"size must be a positive integer, got {size!r}")
    if source not in SOURCES:
        raise UsageError(f"source must be one of {', '.join(SOURCES)}, got {source!r}")
    options = {"root": root, "download": download} if source == "mnist" else {}
    digits = load_dataset(source, **options)
    rng = np.random.default_rng(seed)
    picks = torch.from_numpy(rng.integers(len(digits), size=(size, 3)))
    images = digits.data[picks, 0]  # (size, 3, 28, 28): one digit per channel
    d = digits.labels[picks]
    labels = 100 * d[:, 0] + 10 * d[:, 1] + d[:, 2]
    return Dataset(to_size(images, image_size), labels, num_classes=1000, name="stacked-mnist")
