"""What every architecture shares: label conditioning, the projection head, spectral norm.

A generator is a `body` that maps (z, or z concatenated with a label embedding) to a flat or
shaped tensor, reshaped to `sample_shape`. A discriminator is a feature `trunk` phi(x) of width F
followed by a linear head; conditional discriminators add the projection term <embed(y), phi(x)>
(Miyato & Koyama 2018, "cGANs with Projection Discriminator").
"""

from __future__ import annotations

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
        super().__init__()
        self.body = body
        self.z_dim = z_dim
        self.sample_shape = tuple(sample_shape)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, embed_dim) if num_classes else None

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            z = torch.cat([z, self.embed(_labels(y, len(z), self.num_classes))], dim=1)
        elif y is not None:
            raise UsageError("this generator is unconditional; it takes no labels")
        return self.body(z).reshape(len(z), *self.sample_shape)


class Discriminator(nn.Module):
    def __init__(
        self,
        trunk: nn.Module,
        *,
        features: int,
        num_classes: int = 0,
        spectral_norm: bool = False,
    ) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(features, 1)
        self.num_classes = num_classes
        self.embed = nn.Embedding(num_classes, features) if num_classes else None
        if spectral_norm:
            apply_spectral_norm(self)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.trunk(x)
        logits = self.head(h).squeeze(1)
        if self.embed is not None:
            logits = logits + (self.embed(_labels(y, len(x), self.num_classes)) * h).sum(1)
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
