"""gantool-plugin-example: one architecture and one loss, registered through `gantool.plugins`.

gantool imports this module on its first registry lookup, for every command (even `gantool
list game`, which must start fast), so it only registers factories: torch is imported inside
them, when a component is actually built.
"""

from __future__ import annotations

from gantool.registry import register

__version__ = "0.1.0"


@register(
    "architecture", "maxout-mlp", "MLP generator + maxout discriminator (Goodfellow et al. 2014)"
)
def maxout_mlp(
    *,
    sample_shape: tuple[int, ...],
    z_dim: int = 100,
    num_classes: int = 0,
    spectral_norm: bool = False,
    hidden: int = 256,
    pieces: int = 5,
):
    """Return (generator, discriminator) following gantool's architecture contract."""
    from gantool_plugin_example.maxout import build_maxout_mlp

    return build_maxout_mlp(
        sample_shape=tuple(sample_shape), z_dim=z_dim, num_classes=num_classes,
        spectral_norm=spectral_norm, hidden=hidden, pieces=pieces,
    )


@register("loss", "ra-hinge", "relativistic average hinge loss (Jolicoeur-Martineau 2018)")
def ra_hinge():
    """Return the loss object following gantool's loss contract."""
    from gantool_plugin_example.ra_hinge import RelativisticAverageHinge

    return RelativisticAverageHinge()
