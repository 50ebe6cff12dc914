"""2-D Gaussian mixtures for mode-collapse experiments, with the literature's parameters.

- ring8: 8 Gaussians evenly spaced on a circle of radius 2, std 0.02
  (Metz et al. 2017, "Unrolled Generative Adversarial Networks", section 3.1).
- grid25: 25 Gaussians on a 5x5 grid at -4, -2, 0, 2, 4 on each axis, std 0.05
  (Srivastava et al. 2017, VEEGAN; Lin et al. 2018, PacGAN).

Points are drawn once from the seed (a fixed-size dataset, like an image dataset); labels are
the index of the mode each point came from.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from gantool.data.dataset import Dataset, reject_image_options
from gantool.errors import UsageError
from gantool.registry import register

DEFAULT_SIZE = 100_000
RING8_RADIUS, RING8_STD = 2.0, 0.02
GRID25_SPACING, GRID25_STD = 2.0, 0.05


def ring_modes(k: int = 8, radius: float = RING8_RADIUS) -> np.ndarray:
    angles = 2 * math.pi * np.arange(k) / k
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_modes(side: int = 5, spacing: float = GRID25_SPACING) -> np.ndarray:
    ticks = spacing * (np.arange(side) - (side - 1) / 2)  # -4 -2 0 2 4
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def mixture(name: str, modes: np.ndarray, std: float, size: int, seed: int) -> Dataset:
    """`size` points drawn uniformly over `modes` with isotropic Gaussian noise `std`."""
    if not isinstance(size, int) or size < 1:
        raise UsageError(f"size must be a positive integer, got {size!r}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(len(modes), size=size)
    points = modes[labels] + std * rng.standard_normal((size, modes.shape[1]))
    return Dataset(
        torch.from_numpy(points.astype(np.float32)),
        torch.from_numpy(labels.astype(np.int64)),
        num_classes=len(modes),
        modes=torch.from_numpy(modes.astype(np.float32)),
        mode_std=std,
        name=name,
    )


# Points train the small 2-D networks unless --arch says otherwise.
POINT_DEFAULTS = {"arch": "mlp2d"}


@register("dataset", "ring8", "8 Gaussians on a circle, radius 2, std 0.02 (Unrolled GAN), 2-D",
          defaults=POINT_DEFAULTS)
def ring8(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
) -> Dataset:
    reject_image_options("ring8", image_size, channels)
    return mixture("ring8", ring_modes(), RING8_STD, size, seed)


@register(
    "dataset", "grid25", "25 Gaussians on a 5x5 grid, spacing 2, std 0.05 (VEEGAN, PacGAN), 2-D",
    defaults=POINT_DEFAULTS,
)
def grid25(
    *,
    root=None,
    image_size: int | None = None,
    channels: int | None = None,
    download: bool = False,
    seed: int = 0,
    size: int = DEFAULT_SIZE,
) -> Dataset:
    reject_image_options("grid25", image_size, channels)
    return mixture("grid25", grid_modes(), GRID25_STD, size, seed)
