"""`--show-nearest FILE.png`: the generated samples closest to a training sample, each beside it.

Two columns of pairs per row block: (fake, its nearest real), ordered from the most suspicious
(smallest nearest-neighbour ratio) on. Written atomically; never over an existing file unless
the CLI was given --force.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gantool.errors import UsageError

PAIRS = 32
COLUMNS = 4  # pairs per row
PAD = 2


def pairs_image(fake: np.ndarray, real: np.ndarray, columns: int = COLUMNS) -> np.ndarray:
    """uint8 (K, C, H, W) fakes and reals -> one uint8 (H', W', C) image of side-by-side pairs."""
    k, c, h, w = fake.shape
    rows = -(-k // columns)
    cell_w = 2 * w + PAD  # fake | real, then a gap to the next pair
    canvas = np.full((rows * (h + PAD) + PAD, columns * (cell_w + PAD) + PAD, c), 255, np.uint8)
    for i in range(k):
        top = PAD + (i // columns) * (h + PAD)
        left = PAD + (i % columns) * (cell_w + PAD)
        canvas[top : top + h, left : left + w] = fake[i].transpose(1, 2, 0)
        canvas[top : top + h, left + w + PAD // 2 : left + 2 * w + PAD // 2] = real[i].transpose(
            1, 2, 0
        )
    return canvas


def _uint8(images) -> np.ndarray:
    return images.round().clamp(0, 255).numpy().astype(np.uint8)


def write_nearest_pairs(report, path: str | Path, count: int = PAIRS) -> None:
    """Write the memorization metric's `count` closest pairs from `report` as a PNG."""
    from PIL import Image

    from gantool.io import atomic_path

    metric = next((m for m in report.metrics if m.name == "memorization"), None)
    if metric is None:
        raise UsageError("--show-nearest needs the memorization metric")
    fake, real = metric.nearest_pairs(count)
    if fake.ndim != 4:
        raise UsageError("--show-nearest draws images; these samples are points")
    image = pairs_image(_uint8(fake), _uint8(real))
    mode = "L" if image.shape[2] == 1 else "RGB"
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(image[:, :, 0] if mode == "L" else image, mode=mode).save(tmp, format="PNG")
