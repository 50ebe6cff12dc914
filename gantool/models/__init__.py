"""Architectures (registry kind "architecture"): factories returning (Generator, Discriminator).

Importing this package registers the built-in architectures; build them with
`registry.create("architecture", name, **options)`.
"""

from gantool.models.base import Discriminator, Generator

# Importing these registers their architectures.
from gantool.models import dcgan, mlp, r3gan, resnet  # noqa: F401  isort: skip

__all__ = ["Discriminator", "Generator"]
