"""`array`: images or points from an .npz / .npy file (or '-' for stdin).

Images: (N, H, W), (N, H, W, C) or (N, C, H, W) with C 1 or 3 (when both axes 1 and 3 could
be channels, (N, C, H, W) wins); uint8, integers in 0..255, or floats in [0, 1] or [-1, 1].
Points: (N, D) floats. NaN and inf are refused, and so are complex, text and record arrays
(gantool.io.check_numbers). An .npz may carry int labels under 'labels'.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from gantool.data.convert import convert
from gantool.data.dataset import Dataset, reject_image_options
from gantool.errors import GantoolError, UsageError
from gantool.io import ARRAY_KEYS, check_numbers, read_array, read_arrays
from gantool.registry import register


def images_to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    """Any accepted image array -> uint8 (N, C, H, W)."""
    if array.ndim == 3:
        array = array[:, None]
    elif array.ndim != 4:
        raise UsageError(
            f"{what}: images must be (N,H,W), (N,H,W,C) or (N,C,H,W), got {array.shape}"
        )
    elif array.shape[1] not in (1, 3):
        if array.shape[3] not in (1, 3):
            raise UsageError(f"{what}: images need 1 or 3 channels, got shape {array.shape}")
        array = array.transpose(0, 3, 1, 2)
    return to_uint8(array, what)


def to_uint8(array: np.ndarray, what: str) -> np.ndarray:
    if array.dtype == np.uint8:
        return np.ascontiguousarray(array)
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise UsageError(f"{what}: pixel values must be numbers, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise UsageError(f"{what}: integer pixels must be in 0..255")
        return array.astype(np.uint8)
    if not np.isfinite(array).all():
        raise UsageError(f"{what}: contains NaN or infinite values")
    low, high = float(array.min()), float(array.max())
    if low >= 0 and high <= 1:
        scaled = array * 255.0
    elif low >= -1 and high <= 1:
        scaled = (array + 1.0) * 127.5
    else:
        raise UsageError(
            f"{what}: float pixels must be in [0, 1] or [-1, 1], got [{low:.3g}, {high:.3g}]"
        )
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _load(root) -> tuple[np.ndarray, np.ndarray | None, str]:
    if root is None:
        raise UsageError("dataset 'array' needs a file: --data-root FILE.npz|FILE.npy (or -)")
    if str(root) == "-":
        return read_array("-"), None, "stdin"
    path = Path(root).expanduser()
    if path.is_file() and _magic(path) == b"PK":
        arrays = read_arrays(path)
        data_keys = [k for k in arrays if k != "labels"]
        key = (
            data_keys[0]
            if len(data_keys) == 1
            else next((k for k in ARRAY_KEYS if k in arrays), None)
        )
        if key is None:
            raise UsageError(
                f"{path}: holds {', '.join(arrays)}; name the data one of {', '.join(ARRAY_KEYS)}"
            )
        data = check_numbers(arrays[key], f"{path}: array {key!r}")
        return data, arrays.get("labels"), str(path)
    return read_array(path), None, str(path)


def _magic(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(2)


def _labels(labels: np.ndarray | None, n: int, what: str) -> tuple[torch.Tensor | None, int]:
    if labels is None:
        return None, 0
    if labels.shape != (n,) or not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0:
        raise UsageError(
            f"{what}: 'labels' must be {n} non-negative integers, got {labels.shape} {labels.dtype}"
        )
    return torch.from_numpy(labels.astype(np.int64)), int(labels.max()) + 1


@register("dataset", "array", "images (N,H,W[,C]) or points (N,D) from an .npz/.npy file or stdin")
def array(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
) -> Dataset:
    """`root`: the .npz / .npy file, or '-' for stdin."""
    data, labels, what = _load(root)
    if len(data) == 0:
        raise UsageError(f"{what}: the array is empty")
    label_tensor, num_classes = _labels(labels, len(data), what)
    if data.ndim == 2:
        reject_image_options("array", image_size, channels)
        if not np.issubdtype(data.dtype, np.number) or not np.isfinite(data).all():
            raise UsageError(f"{what}: points must be finite numbers (no NaN or inf)")
        points = torch.from_numpy(data.astype(np.float32))
        return Dataset(points, label_tensor, num_classes=num_classes, name="array")
    try:
        images = torch.from_numpy(images_to_uint8(data, what))
    except MemoryError:
        raise GantoolError(f"{what}: too large to convert in memory") from None
    images = convert(images, image_size, channels)
    return Dataset(images, label_tensor, num_classes=num_classes, name="array")
