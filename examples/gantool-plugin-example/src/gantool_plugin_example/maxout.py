"""A fully connected GAN with a maxout discriminator, as in Goodfellow et al. (2014) on MNIST.

Maxout units output the maximum of `pieces` linear functions; the original paper's discriminator
used them (with dropout, left out here so the same seed gives the same run).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as with_spectral_norm

from gantool.errors import UsageError


class Maxout(nn.Module):
    """Linear layer to out_features * pieces units, then the max over each group of pieces."""

    def __init__(self, in_features: int, out_features: int, pieces: int, spectral_norm: bool):
        super().__init__()
        linear = nn.Linear(in_features, out_features * pieces)
        self.linear = with_spectral_norm(linear) if spectral_norm else linear
        self.out_features, self.pieces = out_features, pieces

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        grouped = self.linear(x).view(x.shape[0], self.out_features, self.pieces)
        return grouped.max(dim=-1).values


def _one_hot(y: torch.Tensor | None, num_classes: int, who: str) -> torch.Tensor | None:
    if num_classes == 0:
        return None
    if y is None:
        raise UsageError(f"maxout-mlp: the conditional {who} needs class labels")
    return nn.functional.one_hot(y.long(), num_classes).float()


class Generator(nn.Module):
    """z (and a one-hot label) -> ReLU MLP -> a sample; tanh into [-1, 1] for images."""

    def __init__(self, sample_shape: tuple[int, ...], z_dim: int, num_classes: int, hidden: int):
        super().__init__()
        self.z_dim, self.num_classes, self.sample_shape = z_dim, num_classes, sample_shape
        self.is_image = len(sample_shape) == 3
        self.net = nn.Sequential(
            nn.Linear(z_dim + num_classes, hidden), nn.ReLU(),
            nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, math.prod(sample_shape)),
        )

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        labels = _one_hot(y, self.num_classes, "generator")
        h = z if labels is None else torch.cat([z, labels], dim=1)
        out = self.net(h).view(z.shape[0], *self.sample_shape)
        return torch.tanh(out) if self.is_image else out


class Discriminator(nn.Module):
    """A sample (and a one-hot label) -> two maxout layers -> one raw logit per sample."""

    def __init__(self, sample_shape: tuple[int, ...], num_classes: int, hidden: int, pieces: int,
                 spectral_norm: bool):
        super().__init__()
        self.num_classes = num_classes
        size = math.prod(sample_shape) + num_classes
        last = nn.Linear(hidden, 1)
        self.net = nn.Sequential(
            Maxout(size, hidden, pieces, spectral_norm),
            Maxout(hidden, hidden, pieces, spectral_norm),
            with_spectral_norm(last) if spectral_norm else last,
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        labels = _one_hot(y, self.num_classes, "discriminator")
        h = x.flatten(1)
        if labels is not None:
            h = torch.cat([h, labels], dim=1)
        return self.net(h).squeeze(1)


def build_maxout_mlp(*, sample_shape: tuple[int, ...], z_dim: int, num_classes: int,
                     spectral_norm: bool, hidden: int, pieces: int) -> tuple[nn.Module, nn.Module]:
    for name, value in (("z_dim", z_dim), ("hidden", hidden), ("pieces", pieces)):
        if int(value) != value or value < 1:
            raise UsageError(f"maxout-mlp: {name} must be a positive integer, got {value!r}")
    if num_classes < 0:
        raise UsageError(f"maxout-mlp: num_classes must be >= 0, got {num_classes!r}")
    generator = Generator(sample_shape, z_dim, num_classes, hidden)
    discriminator = Discriminator(sample_shape, num_classes, hidden, pieces, spectral_norm)
    return generator, discriminator
