"""Built-in game optimizers (registry kind "optimizer").

Each factory takes its parameters as keywords and returns a `gantool.game.updates.Optimizer`.
Registering imports nothing heavy, so `gantool list optimizer` stays fast.
"""

from __future__ import annotations

import math

from gantool.errors import UsageError
from gantool.registry import register


@register("optimizer", "simgd", "simultaneous gradient descent-ascent (the lecture's)")
def simgd():
    from gantool.game import updates

    return updates.SimGD()


@register("optimizer", "altgd", "alternating gradient descent-ascent: x steps, then y")
def altgd():
    from gantool.game import updates

    return updates.AltGD()


@register("optimizer", "ogda", "optimistic gradient descent-ascent (Daskalakis et al. 2018)")
def ogda():
    from gantool.game import updates

    return updates.OGDA()


@register("optimizer", "extragradient", "extragradient: step from a look-ahead point (Korpelevich)")
def extragradient():
    from gantool.game import updates

    return updates.Extragradient()


@register("optimizer", "consensus", "consensus optimization, gamma (Mescheder et al. 2017)")
def consensus(gamma: float = 1.0):
    from gantool.game import updates

    if not math.isfinite(gamma) or gamma < 0:
        raise UsageError(f"--consensus-gamma must be a finite number >= 0, got {gamma}")
    return updates.Consensus(gamma)


@register("optimizer", "negative-momentum", "alternating steps, momentum beta < 0 (Gidel 2019)")
def negative_momentum(beta: float = -0.5):
    from gantool.game import updates

    if not math.isfinite(beta) or not -1 < beta < 1:
        raise UsageError(f"--beta must be a number in (-1, 1), got {beta}")
    return updates.NegativeMomentum(beta)


@register("optimizer", "adam", "Adam for each player (beta1 0.9, beta2 0.999)")
def adam():
    from gantool.game import updates

    return updates.Adam()


@register("optimizer", "flow", "continuous-time gradient flow, integrated with scipy (reference)")
def flow():
    from gantool.game import updates

    return updates.Flow()
