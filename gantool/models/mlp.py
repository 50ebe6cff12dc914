"""Fully connected GANs: `mlp` for images (Goodfellow et al. 2014 style) and `mlp2d` for points.

`mlp`: G is z -> 256 -> 512 -> 1024 -> C*H*W (LeakyReLU 0.2, tanh out); D is the mirror image
C*H*W -> 1024 -> 512 -> 256 (LeakyReLU 0.2, dropout 0.3 as in the paper's D) -> logit.
`width` scales every hidden layer (width=256 gives the sizes above).

`mlp2d`: the toy-data networks of Metz et al. 2017 (Unrolled GAN) and later mode-collapse papers:
G and D each have `depth` hidden layers of `width` units (ReLU); G's output is unbounded.
"""

from __future__ import annotations

import itertools
import math

from torch import nn

from gantool.errors import UsageError
from gantool.models.base import Discriminator, Generator, check_common, image_shape
from gantool.registry import register


def _stack(sizes: list[int], act, dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for n_in, n_out in itertools.pairwise(sizes):
        layers += [nn.Linear(n_in, n_out), act()]
        if dropout:
            layers.append(nn.Dropout(dropout))
    return layers


def _positive(name: str, value, low: float = 1) -> None:
    if not isinstance(value, (int, float)) or value < low:
        raise UsageError(f"{name} must be >= {low}, got {value!r}")


@register(
    "architecture", "mlp", "fully connected G and D (Goodfellow et al. 2014 style), any image size"
)
def mlp(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    width: int = 256,
    dropout: float = 0.3,
):
    check_common(z_dim, num_classes)
    _positive("width", width)
    if not 0 <= dropout < 1:
        raise UsageError(f"dropout must be in [0, 1), got {dropout!r}")
    shape = image_shape("mlp", sample_shape)
    pixels = math.prod(shape)
    hidden = [width, 2 * width, 4 * width]
    embed = min(z_dim, 50) if num_classes else 0
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    g_body = nn.Sequential(
        *_stack([z_dim + embed, *hidden], act), nn.Linear(hidden[-1], pixels), nn.Tanh()
    )
    d_trunk = nn.Sequential(nn.Flatten(), *_stack([pixels, *hidden[::-1]], act, dropout))
    G = Generator(g_body, z_dim=z_dim, sample_shape=shape, num_classes=num_classes, embed_dim=embed)
    D = Discriminator(
        d_trunk, features=hidden[0], num_classes=num_classes, spectral_norm=spectral_norm
    )
    return G, D


# The tiny 2-D networks learn the mixtures in a few thousand steps with larger batches and a fast
# D; a G five times slower than D is also the classic mode-collapse setting, which is what ring8
# and grid25 are for: `--loss minimax` collapses there, `--spectral-norm` or `--loss wgan-gp
# --d-steps 5` cover every mode (docs/train.md has the measurements).
MLP2D_TRAINING = {"batch_size": 256, "lr_g": 2e-4, "lr_d": 1e-3, "sample_every": 250}


@register(
    "architecture", "mlp2d", "small fully connected G and D for 2-D points (Unrolled GAN style)",
    defaults=MLP2D_TRAINING,
)
def mlp2d(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    width: int = 128,
    depth: int = 3,
):
    check_common(z_dim, num_classes)
    _positive("width", width)
    _positive("depth", depth)
    if len(sample_shape) != 1:
        raise UsageError(
            f"architecture 'mlp2d' is for points (D,), got shape {tuple(sample_shape)}; "
            "for images use --arch mlp, dcgan or resnet"
        )
    dim = sample_shape[0]
    embed = min(z_dim, 16) if num_classes else 0
    g_body = nn.Sequential(
        *_stack([z_dim + embed] + [width] * depth, nn.ReLU), nn.Linear(width, dim)
    )
    d_trunk = nn.Sequential(*_stack([dim] + [width] * depth, nn.ReLU))
    G = Generator(
        g_body, z_dim=z_dim, sample_shape=(dim,), num_classes=num_classes, embed_dim=embed
    )
    D = Discriminator(d_trunk, features=width, num_classes=num_classes, spectral_norm=spectral_norm)
    return G, D


@register(
    "architecture", "gan-mlp",
    "the fully connected G and D of PyTorch-GAN's gan.py (the lecture's MLP GAN), 28x28 digits",
)
def gan_mlp(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
):
    """G: z -> 128 -> 256 -> 512 -> 1024 -> pixels, LeakyReLU 0.2, BatchNorm1d (eps 0.8, as
    gan.py passes it) after every hidden layer but the first, tanh. D: pixels -> 512 -> 256 -> 1,
    LeakyReLU 0.2; gan.py's final sigmoid is folded into the loss (BCE on logits: the same
    function, computed stably)."""
    check_common(z_dim, num_classes)
    shape = image_shape("gan-mlp", sample_shape)
    pixels = math.prod(shape)
    embed = min(z_dim, 50) if num_classes else 0
    layers: list[nn.Module] = [nn.Linear(z_dim + embed, 128), nn.LeakyReLU(0.2)]
    for n_in, n_out in itertools.pairwise([128, 256, 512, 1024]):
        layers += [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out, 0.8), nn.LeakyReLU(0.2)]
    g_body = nn.Sequential(*layers, nn.Linear(1024, pixels), nn.Tanh())
    d_trunk = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 512), nn.LeakyReLU(0.2),
                            nn.Linear(512, 256), nn.LeakyReLU(0.2))
    G = Generator(g_body, z_dim=z_dim, sample_shape=shape, num_classes=num_classes, embed_dim=embed)
    D = Discriminator(d_trunk, features=256, num_classes=num_classes, spectral_norm=spectral_norm)
    return G, D
