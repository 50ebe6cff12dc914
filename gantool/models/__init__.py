"""Architectures (registry kind "architecture"): factories returning (Generator, Discriminator).

Importing this package registers the built-in architectures. `create_models` is
`registry.create` with unknown options refused as a UsageError instead of a TypeError.
"""

import inspect

from gantool import registry
from gantool.errors import UsageError
from gantool.models.base import Discriminator, Generator

# Importing these registers their architectures.
from gantool.models import dcgan, mlp, r3gan, resnet  # noqa: F401  isort: skip


def create_models(name: str, /, **options) -> tuple[Generator, Discriminator]:
    """(G, D) of architecture `name`; None-valued options keep the factory's defaults."""
    factory = registry.get("architecture", name).factory
    options = {k: v for k, v in options.items() if v is not None}
    params = inspect.signature(factory).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in options if k not in params]
        if unknown:
            raise UsageError(
                f"architecture {name!r} has no option {', '.join(map(repr, unknown))}; "
                f"its options are: {', '.join(params)}"
            )
    return factory(**options)


__all__ = ["Discriminator", "Generator", "create_models"]
