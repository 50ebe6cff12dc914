"""Built-in game optimizers (registry kind "optimizer").

Each factory takes its parameters as keywords and returns a `gantool.game.updates.Optimizer`.
Registering imports nothing heavy, so `gantool list optimizer` stays fast.
"""

from __future__ import annotations

import math

from gantool import rules
from gantool.errors import UsageError
from gantool.registry import register


@register("optimizer", "simgd", "simultaneous gradient descent-ascent (the lecture's)",
          aliases=rules.aliases("optimizer", "simgd"))
def simgd():
    from gantool.game import updates

    return updates.SimGD()


@register("optimizer", "altgd", "alternating gradient descent-ascent: x steps (--steps-x), then y",
          aliases=rules.aliases("optimizer", "altgd"))
def altgd(steps_x: int = 1):
    from gantool.game import updates

    if steps_x < 1:
        raise UsageError(f"--steps-x must be at least 1, got {steps_x}")
    return updates.AltGD(steps_x)


@register("optimizer", "ogda", "optimistic gradient descent-ascent (Daskalakis et al. 2018)",
          aliases=rules.aliases("optimizer", "ogda"))
def ogda():
    from gantool.game import updates

    return updates.OGDA()


@register("optimizer", "extragradient", "extragradient: step from a look-ahead point (Korpelevich)")
def extragradient():
    from gantool.game import updates

    return updates.Extragradient()


@register("optimizer", "consensus", "consensus optimization, gamma (Mescheder et al. 2017)")
def consensus(gamma: float = rules.CONSENSUS_GAMMA):
    from gantool.game import updates

    return updates.Consensus(rules.consensus_gamma(gamma, "--consensus-gamma"))


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


@register("optimizer", "sga", "symplectic gradient adjustment, lambda and its sign alignment "
          "(Balduzzi et al. 2018)")
def sga(lam: float = rules.SGA_LAMBDA, align: bool = rules.SGA_ALIGN):
    from gantool.game import updates

    return updates.SGA(rules.sga_lambda(lam, "--sga-lambda"),
                       rules.sga_align(align, "--sga-align"))


@register("optimizer", "cgd", "competitive gradient descent (Schaefer & Anandkumar 2019)")
def cgd():
    from gantool.game import updates

    return updates.CGD()


# Lookahead wraps rules whose next point depends on the current point only.
LOOKAHEAD_BASES = ("simgd", "altgd", "extragradient", "consensus", "sga", "cgd")


@register("optimizer", "lookahead", "k base steps, then alpha of the way there (Chavdarova 2021)")
def lookahead(base: str = "simgd", k: int = rules.LOOKAHEAD_K,
              alpha: float = rules.LOOKAHEAD_ALPHA, steps_x: int | None = None,
              gamma: float | None = None, lam: float | None = None,
              align: bool | None = None):
    from gantool import registry
    from gantool.game import parse, simulate, updates

    try:
        base = registry.get("optimizer", base).name  # training's spelling of the same rule too
    except UsageError:
        pass  # parse.choice names the bases
    parse.choice(base, LOOKAHEAD_BASES, "--lookahead-base")
    k = rules.lookahead_k(k, "--lookahead-k")
    alpha = rules.lookahead_alpha(alpha, "--lookahead-alpha")
    # The base's own options go through the same check as the command line's.
    [(_, rule)] = simulate.build_optimizers([base], {"steps_x": steps_x, "gamma": gamma,
                                                     "lam": lam, "align": align})
    return updates.Lookahead(rule, k, alpha)
