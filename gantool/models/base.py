"""What every architecture shares: label conditioning, the projection head, spectral norm.

A generator is a `body` that maps z to a flat or shaped tensor, reshaped to `sample_shape`.
A conditional generator takes its labels one of two ways: the convolutional ones through
class-conditional BatchNorm in every block (the body is a `LabelledSequential` and z stays
unconditional), the fully connected ones by a label embedding concatenated to z.

A discriminator is a feature `trunk` followed by a linear head; conditional discriminators add
the projection term <embed(y), phi(x)> (Miyato & Koyama 2018, "cGANs with Projection
Discriminator"), where phi(x) is the trunk's output or, given `class_features`, a pooled
summary of it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from gantool.errors import UsageError


class Generator(nn.Module):
    def __init__(
        self,
        body: nn.Module,
        *,
        z_dim: int,
        sample_shape: tuple[int, ...],
        num_classes: int = 0,
        embed_dim: int = 0,
    ) -> None:
        """`embed_dim` > 0 concatenates a label embedding to z; 0 with `num_classes` hands
        the labels to the body (a LabelledSequential)."""
        super().__init__()
        self.body = body
        self.z_dim = z_dim
        self.sample_shape = tuple(sample_shape)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes and embed_dim else None

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if not self.num_classes:
            if y is not None:
                raise UsageError("this generator is unconditional; it takes no labels")
            x = self.body(z)
        elif self.embed is not None:
            y = _labels(y, len(z), self.num_classes)
            x = self.body(torch.cat([z, self.embed(y)], dim=1))
        else:
            x = self.body(z, _labels(y, len(z), self.num_classes))
        return x.reshape(len(z), *self.sample_shape)


class LabelledSequential(nn.Sequential):
    """A Sequential that also hands the labels to the layers that take them (`takes_labels`)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = layer(x, y) if getattr(layer, "takes_labels", False) else layer(x)
        return x


class ClassBatchNorm2d(nn.Module):
    """BatchNorm whose scale and shift are looked up per class (de Vries et al. 2017), as in
    the generators of SNGAN's projection cGAN and BigGAN: the label steers every block, so
    z is left to choose among the images of a class."""

    takes_labels = True

    def __init__(self, channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(num_classes, channels)
        self.shift = nn.Embedding(num_classes, channels)
        # Start as plain BatchNorm's affine does (DCGAN: scale N(1, 0.02), shift 0).
        nn.init.normal_(self.gain.weight, 1.0, 0.02)
        nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.gain(y)[:, :, None, None] + self.shift(y)[:, :, None, None]


def batch_norm_2d(channels: int, num_classes: int) -> nn.Module:
    """BatchNorm2d for an unconditional G (its layout unchanged), ClassBatchNorm2d otherwise."""
    return ClassBatchNorm2d(channels, num_classes) if num_classes else nn.BatchNorm2d(channels)


class SumPool(nn.Module):
    """ReLU, then the sum over spatial positions: (N, C, H, W) -> (N, C) (SNGAN's D). With
    `shape` (C, H, W) it first unflattens a flat (N, C*H*W) input."""

    def __init__(self, shape: tuple[int, int, int] | None = None) -> None:
        super().__init__()
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shape is not None:
            x = x.reshape(len(x), *self.shape)
        return torch.relu(x).sum(dim=(2, 3))


class MinibatchStd(nn.Module):
    """ProGAN's minibatch standard deviation (Karras et al. 2018, section 3): one more channel
    holding, for each group of `group` samples, the standard deviation over the group averaged
    over features and positions, so D can tell a batch without variety. The statistic ties the
    samples of a batch together, so the loop keeps real and fake in separate passes
    (`couples_samples`), as it does for BatchNorm."""

    couples_samples = True

    def __init__(self, group: int = 4) -> None:
        super().__init__()
        self.group = group

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = math.gcd(self.group, n)  # 4, 2 or 1 samples a group: every batch size works
        y = x.float().reshape(g, n // g, c, h, w)
        std = (y.var(dim=0, unbiased=False) + 1e-8).sqrt().mean(dim=(1, 2, 3))  # (n // g,)
        stat = std.repeat(g).reshape(n, 1, 1, 1).expand(n, 1, h, w)
        return torch.cat([x, stat.to(x.dtype)], dim=1)


class Discriminator(nn.Module):
    def __init__(
        self,
        trunk: nn.Module,
        *,
        features: int,
        num_classes: int = 0,
        spectral_norm: bool = False,
        class_features: tuple[nn.Module, int] | None = None,
    ) -> None:
        """`class_features` = (module, width): what the projection term reads instead of the
        trunk's output, e.g. a SumPool of a flattened map (a per-position class template over
        the whole map lets G win with one image per class)."""
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(features, 1)
        self.num_classes = num_classes
        self.class_features, class_width = class_features or (None, features)
        self.embed = nn.Embedding(num_classes, class_width) if num_classes else None
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.trunk(x)
        logits = self.head(h).squeeze(1)
        if self.embed is not None:
            phi = h if self.class_features is None else self.class_features(h)
            logits = logits + (self.embed(_labels(y, len(x), self.num_classes)) * phi).sum(1)
        elif y is not None:
            raise UsageError("this discriminator is unconditional; it takes no labels")
        return logits


def _labels(y: torch.Tensor | None, n: int, num_classes: int) -> torch.Tensor:
    if y is None:
        raise UsageError(f"this model is class-conditional ({num_classes} classes); pass labels")
    if y.shape != (n,):
        raise UsageError(f"labels must have shape ({n},), got {tuple(y.shape)}")
    return y.long()


def apply_spectral_norm(module: nn.Module) -> None:
    """Wrap the weight of every Linear, Conv and Embedding layer (Miyato et al. 2018)."""
    from torch.nn.utils.parametrizations import spectral_norm

    layers = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d, nn.Embedding)
    for layer in list(module.modules()):
        if isinstance(layer, layers):
            spectral_norm(layer)


def image_shape(arch: str, sample_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(C, H, W) of an image sample_shape, or a UsageError naming the architecture."""
    if len(sample_shape) != 3 or sample_shape[0] not in (1, 3, 4):
        raise UsageError(
            f"architecture {arch!r} is for images (C, H, W) with C 1, 3 or 4, got shape "
            f"{tuple(sample_shape)}; for 2-D points use --arch mlp2d"
        )
    return tuple(sample_shape)


def check_common(z_dim: int, num_classes: int) -> None:
    if not isinstance(z_dim, int) or z_dim < 1:
        raise UsageError(f"z_dim must be a positive integer, got {z_dim!r}")
    if not isinstance(num_classes, int) or num_classes < 0:
        raise UsageError(f"num_classes must be 0 or more, got {num_classes!r}")
