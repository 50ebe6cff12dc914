"""`dcgan`: the deep convolutional GAN of Radford et al. 2015, at 28, 32 or 64 pixels.

G: z -> ConvTranspose to a s0 x s0 map (s0 = 7 for 28 px, 4 for 32 and 64 px), then stride-2
transposed convolutions doubling the size and halving the channels (BatchNorm + ReLU), tanh out.
D: the mirror image with stride-2 convolutions, LeakyReLU 0.2 and BatchNorm (none on the first
layer, as in the paper), then a linear head on the flattened s0 x s0 map.
With spectral_norm, D drops BatchNorm (SNGAN's choice: spectral norm replaces it).
Conditional (num_classes > 0): every BatchNorm of G is class-conditional and z enters alone;
D's projection term reads its last map after a ReLU and a sum over space (SNGAN's projection
cGAN); the head still reads the flattened map.

As gantool's default architecture it brings the default run's options (its registry defaults
below, measured on mnist-5k on a 2-core CPU: docs/train.md, "How the default was chosen"): a
spectrally normalised D at half the paper's width (32) and G at the paper's (64), each with one
extra 3x3 layer per resolution, the hinge loss, Adam with beta1 0 and D's learning rate above
G's (TTUR), and an EMA of G; the lecture's alternating steps, as every architecture.
`--recipe dcgan` is the paper's version (BatchNorm D, width 64, no EMA).
"""

from __future__ import annotations

from torch import nn

from gantool.errors import UsageError
from gantool.models.base import (
    Discriminator,
    Generator,
    LabelledSequential,
    MinibatchStd,
    SumPool,
    batch_norm_2d,
    check_common,
    image_shape,
)
from gantool.registry import register

# image size -> (start size s0, number of stride-2 doublings)
SIZES = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


def dcgan_generator(
    z_in: int, channels: int, size: int, width: int, num_classes: int = 0, extra: int = 0
) -> nn.Sequential:
    """With `num_classes`, every BatchNorm is class-conditional and the body takes labels.
    `extra` 3x3 convolutions (BatchNorm + ReLU) follow each hidden map's upsampling."""
    start, ups = SIZES[size]
    ch = width * 2 ** (ups - 1)

    def block(conv: nn.Module, out: int) -> list[nn.Module]:
        return [conv, batch_norm_2d(out, num_classes), nn.ReLU(True)]

    layers: list[nn.Module] = [nn.Unflatten(1, (z_in, 1, 1)),
                               *block(nn.ConvTranspose2d(z_in, ch, start, 1, 0, bias=False), ch)]
    for i in range(ups):
        for _ in range(extra):
            layers += block(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), ch)
        if i < ups - 1:
            layers += block(nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), ch // 2)
            ch //= 2
    layers += [nn.ConvTranspose2d(ch, channels, 4, 2, 1), nn.Tanh()]
    return LabelledSequential(*layers) if num_classes else nn.Sequential(*layers)


def dcgan_trunk(channels: int, size: int, width: int, batch_norm: bool,
                mbstd: int = 0, extra: int = 0) -> tuple[nn.Module, int]:
    """D's convolutions down to the s0 x s0 map, flattened; with `mbstd` a group size, the
    minibatch standard deviation joins that map as one more channel (ProGAN). `extra` 3x3
    convolutions follow each downsampling (SNGAN's standard CNN D pairs them so)."""
    start, downs = SIZES[size]

    def block(ch_in: int, ch_out: int, kernel: int, stride: int, norm: bool) -> list[nn.Module]:
        conv = nn.Conv2d(ch_in, ch_out, kernel, stride, 1, bias=not norm)
        return [conv, *([nn.BatchNorm2d(ch_out)] if norm else []), nn.LeakyReLU(0.2, True)]

    layers: list[nn.Module] = block(channels, width, 4, 2, False)
    ch = width
    for i in range(downs):
        for _ in range(extra):
            layers += block(ch, ch, 3, 1, batch_norm)
        if i < downs - 1:
            layers += block(ch, ch * 2, 4, 2, batch_norm)
            ch *= 2
    if mbstd:
        layers.append(MinibatchStd(mbstd))
    layers.append(nn.Flatten())
    return nn.Sequential(*layers), (ch + bool(mbstd)) * start * start


# What `--arch dcgan` (and so `gantool train` with no options) trains with unless told otherwise:
# the leader of a search at equal CPU time on mnist-5k (docs/train.md, "How the default was
# chosen"), rounded; 6,000 steps fit the search's 20 CPU-minutes (7,000 took 1,258-1,282).
DCGAN_TRAINING = {"spectral_norm": True, "ema_kimg": 10.0,
                  "arch_options": {"g_width": 64, "g_extra": 1, "d_extra": 1},
                  "loss": "hinge", "lr_g": 4e-4, "lr_d": 9e-4, "beta1": 0.0, "steps": 6000}


@register("architecture", "dcgan", "deep convolutional G and D (Radford et al. 2015), 28/32/64 "
          "px; the default", defaults=DCGAN_TRAINING)
def dcgan(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    width: int | None = None,
    g_width: int | None = None,
    d_batch_norm: bool | None = None,
    mbstd: int = 0,
    g_extra: int = 0,
    d_extra: int = 0,
):
    """`width`: channels of G's last and D's first hidden layer (default 32 at 28 px, else the
    paper's ngf = ndf = 64); `g_width` sets G's alone (default: width). `d_batch_norm`:
    BatchNorm in D (default: on, off with spectral_norm). `mbstd`: a group size (e.g. 4) for a
    minibatch standard deviation channel at the end of D's convolutions (default 0: none).
    `g_extra` / `d_extra`: 3x3 stride-1 convolutions after each of G's upsamplings / D's
    downsamplings, for depth without more resolutions (default 0: the paper's layers)."""
    check_common(z_dim, num_classes)
    channels, height, width_px = image_shape("dcgan", sample_shape)
    if height != width_px or height not in SIZES:
        raise UsageError(
            f"architecture 'dcgan' takes square 28, 32 or 64 px images, not {height}x{width_px}; "
            "use --image-size 28, 32 or 64, or --arch mlp"
        )
    if width is None:
        width = 32 if height == 28 else 64
    g_width = width if g_width is None else g_width
    for name, value in (("width", width), ("g_width", g_width)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(mbstd, int) or isinstance(mbstd, bool) or mbstd < 0:
        raise UsageError(f"mbstd must be a group size (e.g. 4) or 0 for none, got {mbstd!r}")
    for name, value in (("g_extra", g_extra), ("d_extra", d_extra)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise UsageError(f"{name} must be a whole number of layers (0 for none), "
                             f"got {value!r}")
    batch_norm = (not spectral_norm) if d_batch_norm is None else bool(d_batch_norm)
    g_body = dcgan_generator(z_dim, channels, height, g_width, num_classes, g_extra)
    trunk, features = dcgan_trunk(channels, height, width, batch_norm, mbstd, d_extra)
    # Initialise before spectral norm wraps D's weights (it reparametrises them).
    _init_weights(g_body)
    _init_weights(trunk)
    G = Generator(g_body, z_dim=z_dim, sample_shape=sample_shape, num_classes=num_classes)
    D = Discriminator(
        trunk, features=features, num_classes=num_classes, spectral_norm=spectral_norm,
        class_features=_pooled(height, width, mbstd) if num_classes else None,
    )
    return G, D


def _pooled(size: int, width: int, mbstd: int = 0) -> tuple[SumPool, int]:
    """The projection's phi(x): D's last map summed over space after a ReLU (SNGAN's
    projection D). The head keeps the flattened map: at 28 px that map is 7x7 with a 10-pixel
    receptive field, too local for a pooled head to judge a digit's shape."""
    start, downs = SIZES[size]
    ch = width * 2 ** (downs - 1) + bool(mbstd)
    return SumPool((ch, start, start)), ch


def _init_weights(module: nn.Module) -> None:
    """The paper's initialisation: N(0, 0.02) weights, BatchNorm scale N(1, 0.02)."""
    for layer in module.modules():
        if isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(layer.weight, 0.0, 0.02)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        elif isinstance(layer, nn.BatchNorm2d) and layer.affine:
            nn.init.normal_(layer.weight, 1.0, 0.02)
            nn.init.zeros_(layer.bias)
