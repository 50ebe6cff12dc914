"""`r3gan`: the modern baseline of Huang et al. 2024 ("The GAN is dead; long live the GAN!"),
square images of any power of two from 16 to 256 px.

No normalisation layers. Each stage at one resolution is a stack of residual blocks
x + gain * (1x1 conv -> LeakyReLU -> grouped 3x3 conv -> LeakyReLU -> 1x1 conv), the inner
convolution widened by `expansion` and split into groups of `group_size` channels (ResNeXt).
Fix-up style initialisation: MSR (He) init scaled by L^(-1/4) for the L blocks of a network
(Fixup's L^(-1/(2m-2)) for m = 3 layers per branch), and every branch ends in a learned gain that
starts at 0, so each block is the identity at start. R3GAN zero-initialises the branch's last
conv instead; a zero gain keeps the branch at zero also under spectral norm, which rescales
every weight to unit norm. Stages change width with a 1x1 conv and resolution by bilinear
resampling. G starts from a learned 4x4 basis modulated per channel by a linear map of z (R3GAN's
"generative basis"); D ends in a depthwise 4x4 conv to a feature vector (its "discriminative
basis") and the shared linear head, with the projection term when conditional.

Widths: `width` channels at 4 to 16 px, halved at every doubling above 16 px (with a floor of
`min_width`), like R3GAN's configurations that thin out at high resolution.
"""

from __future__ import annotations

import math
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from gantool.errors import UsageError
from gantool.models.base import Discriminator, Generator, check_common, image_shape
from gantool.registry import register

MIN_SIZE, MAX_SIZE = 16, 256
LEAK = 0.2
LEAK_GAIN = math.sqrt(2 / (1 + LEAK**2))  # keeps the variance through a leaky ReLU


def msr_init(layer: nn.Module, gain: float = 1.0) -> nn.Module:
    """He init, N(0, gain^2 / fan_in), zero bias (R3GAN's MSRInitializer)."""
    fan_in = layer.weight[0].numel()
    nn.init.normal_(layer.weight, 0.0, gain / math.sqrt(fan_in))
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer


class ResidualBlock(nn.Module):
    def __init__(self, ch: int, *, expansion: int, group_size: int, blocks_total: int) -> None:
        super().__init__()
        wide = ch * expansion
        # Fixup: scale the branch's layers so that L blocks add up to O(1) variance once trained.
        gain = LEAK_GAIN * blocks_total ** (-1 / 4)
        self.conv1 = msr_init(nn.Conv2d(ch, wide, 1), gain)
        self.conv2 = msr_init(nn.Conv2d(wide, wide, 3, padding=1, groups=groups(wide, group_size)),
                              gain)
        self.conv3 = msr_init(nn.Conv2d(wide, ch, 1))
        self.gain = nn.Parameter(torch.zeros(()))  # the block starts as the identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv1(x), LEAK)
        h = F.leaky_relu(self.conv2(h), LEAK)
        return x + self.gain * self.conv3(h)


def groups(channels: int, group_size: int) -> int:
    """How many groups of `group_size` channels; a stage narrower than one group uses one."""
    return max(1, channels // group_size)


class Resample(nn.Module):
    """A 1x1 conv to the next width and a bilinear x2 (up) or x0.5 (down, antialiased)."""

    def __init__(self, ch_in: int, ch_out: int, *, up: bool) -> None:
        super().__init__()
        self.conv = msr_init(nn.Conv2d(ch_in, ch_out, 1)) if ch_in != ch_out else nn.Identity()
        self.up = up

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.up:
            return F.interpolate(self.conv(x), scale_factor=2, mode="bilinear")
        # The antialiased resample has no bfloat16 kernel on CPU: under --amp it runs in
        # float32 (a no-op cast in a float32 run) and hands its input's dtype on.
        low_passed = F.interpolate(x.float(), scale_factor=0.5, mode="bilinear", antialias=True)
        return self.conv(low_passed.to(x.dtype))


class GenerativeBasis(nn.Module):
    """z -> a learned (C, 4, 4) basis scaled per channel by a linear map of z."""

    def __init__(self, z_in: int, ch: int) -> None:
        super().__init__()
        self.basis = nn.Parameter(torch.randn(ch, 4, 4))
        self.linear = msr_init(nn.Linear(z_in, ch, bias=False))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.basis[None] * self.linear(z)[:, :, None, None]


class DiscriminativeBasis(nn.Module):
    """(C, 4, 4) -> C features by a depthwise 4x4 conv."""

    def __init__(self, ch: int) -> None:
        super().__init__()
        self.conv = msr_init(nn.Conv2d(ch, ch, 4, groups=ch, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).flatten(1)


def stage_widths(size: int, width: int, min_width: int) -> list[int]:
    """Channels at 4, 8, ..., size px."""
    resolutions = [4 * 2**i for i in range(int(math.log2(size // 4)) + 1)]
    return [max(min_width, width * 16 // max(r, 16)) for r in resolutions]


def _check_options(size: int, width, min_width, blocks, group_size, expansion) -> None:
    if size & (size - 1) or not MIN_SIZE <= size <= MAX_SIZE:
        raise UsageError(
            f"architecture 'r3gan' takes square images of a power of two from {MIN_SIZE} to "
            f"{MAX_SIZE} px, got {size}x{size}; use --image-size 16, 32, 64, 128 or 256"
        )
    for name, value in (("width", width), ("min_width", min_width), ("blocks", blocks),
                        ("group_size", group_size), ("expansion", expansion)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    for ch in stage_widths(size, width, min_width):
        wide = ch * expansion
        if wide > group_size and wide % group_size:
            raise UsageError(
                f"r3gan: a stage of {ch} channels x expansion {expansion} = {wide} does not "
                f"split into groups of {group_size}; pick width, min_width and group_size as "
                "powers of two"
            )


@register("architecture", "r3gan", "R3GAN's normalisation-free residual G and D, 16-256 px")
def r3gan(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    width: int = 256,
    min_width: int = 32,
    blocks: int = 2,
    group_size: int = 16,
    expansion: int = 2,
):
    check_common(z_dim, num_classes)
    channels, height, width_px = image_shape("r3gan", sample_shape)
    if height != width_px:
        raise UsageError(f"architecture 'r3gan' takes square images, got {height}x{width_px}")
    _check_options(height, width, min_width, blocks, group_size, expansion)
    widths = stage_widths(height, width, min_width)
    total = blocks * len(widths)

    def stage(ch: int) -> list[nn.Module]:
        return [ResidualBlock(ch, expansion=expansion, group_size=group_size,
                              blocks_total=total) for _ in range(blocks)]

    embed = min(z_dim, 128) if num_classes else 0
    g_layers: list[nn.Module] = [GenerativeBasis(z_dim + embed, widths[0]), *stage(widths[0])]
    for ch_in, ch_out in pairwise(widths):
        g_layers += [Resample(ch_in, ch_out, up=True), *stage(ch_out)]
    g_layers += [msr_init(nn.Conv2d(widths[-1], channels, 1)), nn.Tanh()]

    d_layers: list[nn.Module] = [msr_init(nn.Conv2d(channels, widths[-1], 1))]
    for ch_in, ch_out in pairwise(widths[::-1]):
        d_layers += [*stage(ch_in), Resample(ch_in, ch_out, up=False)]
    d_layers += [*stage(widths[0]), DiscriminativeBasis(widths[0])]

    G = Generator(nn.Sequential(*g_layers), z_dim=z_dim, sample_shape=sample_shape,
                  num_classes=num_classes, embed_dim=embed)
    D = Discriminator(nn.Sequential(*d_layers), features=widths[0], num_classes=num_classes,
                      spectral_norm=spectral_norm)
    return G, D
