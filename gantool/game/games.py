"""Built-in games (registry kind "game").

Each factory takes its parameters as keywords and returns a `gantool.game.fields.Game`.
Registering imports nothing heavy: numpy is imported when a game is built, so
`gantool list game` stays fast.
"""

from __future__ import annotations

import math

from gantool.errors import UsageError
from gantool.game import parse
from gantool.registry import register

DEFAULT_MATRIX = "1,0;0,1"
LOSSES = ("standard", "non-saturating", "wasserstein", "rpgan")
REGULARIZERS = ("none", "r1", "r2", "r1+r2", "gradient-penalty", "instance-noise")
PENALTIES = ("r1", "r2", "r1+r2", "gradient-penalty")  # the regularizers --gamma weighs


@register("game", "bilinear", "V = x*y, the lecture's game: x maximises, y minimises (default)")
def bilinear():
    from gantool.game import fields

    return fields.bilinear()


@register("game", "matrix", "V = x^T A y for vector players, A from --matrix '1,2;3,4'")
def matrix(matrix: str = DEFAULT_MATRIX):
    from gantool.game import fields

    return fields.matrix_game(parse.matrix(matrix))


@register("game", "quadratic", "V = a/2 x^2 + b x y - c/2 y^2 (--a, --b, --c, or --mix)")
def quadratic(a: float | None = None, b: float | None = None, c: float | None = None,
              mix: float | None = None):
    from gantool.game import fields

    if mix is not None:
        # mix 0 is the pure potential game a = c = -1 (both players pulled to 0), mix 1 the
        # pure rotation b = 1 (x*y); in between J = -(1 - mix) I + mix [[0, 1], [-1, 0]].
        if (a, b, c) != (None, None, None):
            raise UsageError("--mix sets a, b and c; give either --mix or --a/--b/--c")
        if not math.isfinite(mix) or not 0 <= mix <= 1:
            raise UsageError(f"--mix must be a number in [0, 1], got {mix}")
        return fields.quadratic(mix - 1.0, mix, mix - 1.0, mix)
    a, b, c = (-0.5 if a is None else a), (1.0 if b is None else b), (-0.5 if c is None else c)
    for value, option in ((a, "--a"), (b, "--b"), (c, "--c")):
        parse.finite(value, option)
    return fields.quadratic(a, b, c)


@register("game", "dirac-gan", "Dirac-GAN (Mescheder et al. 2018): D(s) = psi*s vs G = theta")
def dirac_gan(
    loss: str = "standard",
    regularizer: str = "none",
    gamma: float | None = None,
    noise_std: float | None = None,
):
    from gantool.game import fields

    parse.choice(loss, LOSSES, "--loss")
    parse.choice(regularizer, REGULARIZERS, "--regularizer")
    if gamma is not None and regularizer not in PENALTIES:
        raise UsageError(
            "--gamma applies only with --regularizer r1, r2, r1+r2 or gradient-penalty")
    if noise_std is not None and regularizer != "instance-noise":
        raise UsageError("--noise-std applies only with --regularizer instance-noise")
    gamma = 1.0 if gamma is None else gamma
    if not math.isfinite(gamma) or gamma < 0:
        raise UsageError(f"--gamma must be a finite number >= 0, got {gamma}")
    noise_std = parse.positive(1.0 if noise_std is None else noise_std, "--noise-std")
    return fields.dirac_gan(loss, regularizer, gamma, noise_std)
