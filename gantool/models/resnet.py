"""`resnet`: the residual CIFAR networks of SNGAN (Miyato et al. 2018) and WGAN-GP (Gulrajani et
al. 2017), 32 px.

G: linear z -> 4x4 map, three up-sampling residual blocks (BatchNorm, ReLU, nearest x2, 3x3
convs) to 32x32, BatchNorm, ReLU, 3x3 conv, tanh. D: an "optimized" first block and a down block
(32 -> 16 -> 8), two more blocks at 8x8, ReLU and a global sum pool -> features -> linear head.
`width` is the channel count of every block (128 in both papers' CIFAR D; SNGAN's G uses 256).
Conditional: G's BatchNorms are class-conditional (per-class gain and shift) and D adds the
projection term on the pooled features, as SNGAN's projection cGAN.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gantool.errors import UsageError
from gantool.models.base import (
    Discriminator,
    Generator,
    LabelledSequential,
    SumPool,
    batch_norm_2d,
    check_common,
    image_shape,
)
from gantool.registry import register

SIZE = 32


class UpBlock(nn.Module):
    """With `num_classes`, its BatchNorms are class-conditional and forward takes labels."""

    takes_labels = True

    def __init__(self, ch: int, num_classes: int = 0) -> None:
        super().__init__()
        self.bn1, self.bn2 = batch_norm_2d(ch, num_classes), batch_norm_2d(ch, num_classes)
        self.conv1, self.conv2 = nn.Conv2d(ch, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        self.skip = nn.Conv2d(ch, ch, 1)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        def norm(bn: nn.Module, h: torch.Tensor) -> torch.Tensor:
            return bn(h) if y is None else bn(h, y)

        h = F.interpolate(F.relu(norm(self.bn1, x)), scale_factor=2)
        h = self.conv2(F.relu(norm(self.bn2, self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2))


class DownBlock(nn.Module):
    """Residual D block; `first` is SNGAN's optimized block (no ReLU before the first conv)."""

    def __init__(self, ch_in: int, ch: int, *, down: bool, first: bool = False) -> None:
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(ch_in, ch, 3, 1, 1), nn.Conv2d(ch, ch, 3, 1, 1)
        self.skip = nn.Conv2d(ch_in, ch, 1) if (down or ch_in != ch) else None
        self.down, self.first = down, first

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x if self.first else F.relu(x)
        h = self.conv2(F.relu(self.conv1(h)))
        skip = x
        if self.first:  # pool, then project: cheaper at full resolution
            skip = self.skip(F.avg_pool2d(x, 2))
        elif self.skip is not None:
            skip = self.skip(x)
        if self.down:
            h = F.avg_pool2d(h, 2)
            if not self.first:
                skip = F.avg_pool2d(skip, 2)
        return h + skip


@register("architecture", "resnet", "residual G and D of SNGAN / WGAN-GP for 32 px images")
def resnet(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    width: int = 128,
):
    check_common(z_dim, num_classes)
    channels, height, width_px = image_shape("resnet", sample_shape)
    if (height, width_px) != (SIZE, SIZE):
        raise UsageError(
            f"architecture 'resnet' supports 32x32 images, got {height}x{width_px}; "
            "use --image-size 32, or --arch dcgan (28, 32, 64 px) or mlp"
        )
    if not isinstance(width, int) or width < 1:
        raise UsageError(f"width must be a positive integer, got {width!r}")
    g_layers = [
        nn.Linear(z_dim, 4 * 4 * width),
        nn.Unflatten(1, (width, 4, 4)),
        UpBlock(width, num_classes),
        UpBlock(width, num_classes),
        UpBlock(width, num_classes),
        batch_norm_2d(width, num_classes),
        nn.ReLU(),
        nn.Conv2d(width, channels, 3, 1, 1),
        nn.Tanh(),
    ]
    # Conditional: SNGAN's projection cGAN, labels in every BatchNorm of G, z alone at its input.
    g_body = LabelledSequential(*g_layers) if num_classes else nn.Sequential(*g_layers)
    trunk = nn.Sequential(
        DownBlock(channels, width, down=True, first=True),
        DownBlock(width, width, down=True),
        DownBlock(width, width, down=False),
        DownBlock(width, width, down=False),
        SumPool(),
    )
    G = Generator(g_body, z_dim=z_dim, sample_shape=sample_shape, num_classes=num_classes)
    D = Discriminator(trunk, features=width, num_classes=num_classes, spectral_norm=spectral_norm)
    return G, D
