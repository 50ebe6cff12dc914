"""One vocabulary for the update rules that game-sim simulates and training runs.

game-sim's rules (registry kind "optimizer", gantool/game/optimizers.py) move a point z = (x, y)
of a small game; training's (kind "update", gantool/train/updates.py) move two networks with a
per-player optimiser step (`--optimizer sgd|adam`). Where both have a rule, it is the same
rule: on the bilinear game with plain SGD, training's trajectory is game-sim's step for step
(tests/test_train_updates.py). This table is the one place that says which names go together;
each registry accepts the other's spelling as an alias, so a name means one thing in both
commands. The options the shared rules take, with their defaults and checks, live here too.

Pure Python on purpose: game-sim imports it without torch, training without numpy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from gantool.errors import UsageError


@dataclass(frozen=True)
class SharedRule:
    train: str  # the name in `gantool train --update` (kind "update")
    game: str  # the name in `gantool game-sim --update` (kind "optimizer")
    paper: str


SHARED = (
    SharedRule("alternating", "altgd", "the lecture's algorithm (Goodfellow et al. 2014)"),
    SharedRule("simultaneous", "simgd", "simultaneous gradient descent-ascent"),
    SharedRule("optimistic", "ogda", "Daskalakis et al., ICLR 2018"),
    SharedRule("extragradient", "extragradient", "Korpelevich 1976; Gidel et al., ICLR 2019"),
    SharedRule("consensus", "consensus", "Mescheder et al., NeurIPS 2017"),
    SharedRule("sga", "sga", "Balduzzi et al., ICML 2018"),
    SharedRule("lookahead", "lookahead", "Chavdarova et al., ICLR 2021"),
)

# The shared rules' options: one default each, whichever command runs the rule.
CONSENSUS_GAMMA = 1.0
SGA_LAMBDA = 1.0
# Balduzzi et al.'s Algorithm 1 chooses lambda's sign each step: lambda = lam sign(<xi, grad H>
# <A^T xi, grad H> / d + eps), H = |xi|^2 / 2, d the number of parameters, eps = 1/10 (the
# paper's value and its code's). It is +lam near any fixed point (eps), and -lam where the
# adjustment would pull towards a repelling one. `align=false` keeps lambda = lam. The paper's
# rule is the default: on ring8 it measured the same as the fixed sign (docs/train.md), and on a
# repelling game it is the one that leaves (docs/game-sim.md).
SGA_ALIGN = True
SGA_EPSILON = 0.1
LOOKAHEAD_K = 5
LOOKAHEAD_ALPHA = 0.5


def aliases(kind: str, name: str) -> tuple[str, ...]:
    """The other command's spelling of rule `name` of `kind` ("update" or "optimizer")."""
    for rule in SHARED:
        mine, other = (rule.train, rule.game) if kind == "update" else (rule.game, rule.train)
        if mine == name and other != name:
            return (other,)
    return ()


def consensus_gamma(gamma: float, flag: str) -> float:
    if not isinstance(gamma, (int, float)) or not math.isfinite(gamma) or gamma < 0:
        raise UsageError(f"{flag} must be a finite number >= 0, got {gamma}")
    return float(gamma)


def sga_lambda(lam: float, flag: str) -> float:
    if not isinstance(lam, (int, float)) or not math.isfinite(lam):
        raise UsageError(f"{flag} must be a finite number, got {lam}")
    return float(lam)


def sga_align(align: bool, flag: str) -> bool:
    if not isinstance(align, bool):
        raise UsageError(f"{flag} must be true or false, got {align!r}")
    return align


def lookahead_k(k: int, flag: str) -> int:
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise UsageError(f"{flag} must be at least 1, got {k}")
    return k


def lookahead_alpha(alpha: float, flag: str) -> float:
    if not isinstance(alpha, (int, float)) or not math.isfinite(alpha) or not 0 < alpha <= 1:
        raise UsageError(f"{flag} must be a number in (0, 1], got {alpha}")
    return float(alpha)
