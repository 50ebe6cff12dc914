"""`gantool game-sim`: play a two-player minimax game with gradient methods and see what happens.

Thin: parse the flags, call gantool.api.game_sim (the checks, the game, the figures), print its
result. numpy is imported inside the command, scipy only for the `flow` optimizer and
matplotlib only for --plot/--animate.
"""

# No `from __future__ import annotations` here: typer reads the option annotations with
# typing.get_type_hints, which compiles every string annotation at each start (~10 ms here).
import sys

import typer

from gantool.errors import UsageError

FORMATS = ("table", "csv", "json")


def game_sim_command(
    x: str = typer.Option("2", "--x", help="Start of player A (maximises). Matrix games: '1,2'."),
    y: str = typer.Option("2", "--y", help="Start of player B (minimises). Matrix games: '1,2'."),
    game: str = typer.Option(
        "bilinear", "--game", "-g", help="bilinear (V = x*y), matrix, quadratic or dirac-gan."
    ),
    update: str = typer.Option(
        "simgd", "--update", "-u", "--optimizer", "-o",
        help="The update rule, one name or a comma list: simgd, altgd, ogda, extragradient, "
        "consensus, negative-momentum, adam, flow, sga, cgd, lookahead; gantool train's "
        "names simultaneous, alternating, optimistic are the same rules as simgd, altgd, ogda. "
        "--optimizer / -o is the old name and still works (in gantool train, --optimizer is "
        "the per-player step).",
    ),
    lr: float = typer.Option(0.1, "--lr", help="Step size (> 0)."),
    lr_x: float = typer.Option(
        None, "--lr-x", help="Step size of player A (x) if not --lr: two step sizes (TTUR).",
        show_default=False,
    ),
    lr_y: float = typer.Option(
        None, "--lr-y", help="Step size of player B (y) if not --lr.", show_default=False
    ),
    steps_x: int = typer.Option(
        None, "--steps-x", help="altgd (also as lookahead's base): x takes K steps per step "
        "of y [default: 1].", show_default=False,
    ),
    steps: int = typer.Option(100, "--steps", help="Number of steps (> 0)."),
    tol: float = typer.Option(
        1e-3, "--tol", help="Distance to the equilibrium that counts as reached (> 0)."
    ),
    matrix: str = typer.Option(
        None, "--matrix", help="matrix game: A with rows split by ';' [default: 1,0;0,1].",
        show_default=False,
    ),
    a: float = typer.Option(
        None, "--a", help="quadratic game: a [default: -0.5].", show_default=False
    ),
    b: float = typer.Option(
        None, "--b", help="quadratic game: b [default: 1].", show_default=False
    ),
    c: float = typer.Option(
        None, "--c", help="quadratic game: c [default: -0.5].", show_default=False
    ),
    mix: float = typer.Option(
        None, "--mix", help="quadratic game instead of --a/--b/--c: 0 pure potential "
        "(a = c = -1), 1 pure rotation (b = 1), a = c = mix - 1, b = mix.", show_default=False,
    ),
    loss: str = typer.Option(
        None, "--loss",
        help="dirac-gan: standard, non-saturating, wasserstein or rpgan (relativistic, "
        "R3GAN's) [default: standard].",
        show_default=False,
    ),
    regularizer: str = typer.Option(
        None, "--regularizer",
        help="dirac-gan: none, r1, r2, r1+r2, gradient-penalty or instance-noise "
        "[default: none].",
        show_default=False,
    ),
    gamma: float = typer.Option(
        None, "--gamma", help="dirac-gan: strength of r1, r2, r1+r2, gradient-penalty "
        "[default: 1].",
        show_default=False,
    ),
    noise_std: float = typer.Option(
        None, "--noise-std", help="dirac-gan: std of the instance noise [default: 1].",
        show_default=False,
    ),
    consensus_gamma: float = typer.Option(
        None, "--consensus-gamma", help="consensus: weight of grad |v|^2/2 [default: 1].",
        show_default=False,
    ),
    beta: float = typer.Option(
        None, "--beta", help="negative-momentum: momentum in (-1, 1) [default: -0.5].",
        show_default=False,
    ),
    sga_lambda: float = typer.Option(
        None, "--sga-lambda", help="sga: weight of the adjustment A v [default: 1].",
        show_default=False,
    ),
    sga_align: bool = typer.Option(
        None, "--sga-align/--no-sga-align", help="sga: choose lambda's sign each step by "
        "alignment (Balduzzi et al.'s Algorithm 1), or keep it fixed [default: alignment].",
        show_default=False,
    ),
    lookahead_base: str = typer.Option(
        None, "--lookahead-base", help="lookahead: the rule it wraps: simgd, altgd, "
        "extragradient, consensus, sga or cgd (or training's names) [default: simgd].",
        show_default=False,
    ),
    lookahead_k: int = typer.Option(
        None, "--lookahead-k", help="lookahead: base steps per step [default: 5].",
        show_default=False,
    ),
    lookahead_alpha: float = typer.Option(
        None, "--lookahead-alpha", help="lookahead: how far to move towards the k-th point, "
        "in (0, 1] [default: 0.5].", show_default=False,
    ),
    output_format: str = typer.Option("table", "--format", help="table, csv or json (on stdout)."),
    plot: str = typer.Option(
        None, "--plot", help="Write a PNG: trajectories over the update field, distance per step.",
        show_default=False,
    ),
    animate: str = typer.Option(
        None, "--animate", help="Write a GIF of the trajectories.", show_default=False
    ),
    plot_eigenvalues: str = typer.Option(
        None, "--plot-eigenvalues", help="Write a PNG: each rule's update eigenvalues at the "
        "equilibrium in the complex plane, with the unit circle.", show_default=False,
    ),
    force: bool = typer.Option(False, "--force", help="Let --plot, --animate and "
                               "--plot-eigenvalues overwrite a file."),
    sweep_lr: str = typer.Option(
        None, "--sweep-lr",
        help="START:STOP:N: run N step sizes at once; report per lr the final distance, "
        "spectral radius and verdict.",
        show_default=False,
    ),
    sweep: str = typer.Option(
        None, "--sweep",
        help="Phase diagram: NAME=START:STOP:N,NAME=START:STOP:N over two of lr, lr-x, lr-y, "
        "a, b, c, mix, gamma, noise-std, consensus-gamma, beta, sga-lambda, lookahead-alpha, "
        "lookahead-k, steps-x; each cell's verdict and spectral radius (--plot: one PNG).",
        show_default=False,
    ),
) -> None:
    """Simulate gradient methods on a two-player minimax game (the lecture's x*y by default).

    Player A holds x and maximises V, player B holds y and minimises it; the lecture's
    simultaneous steps dx = +lr dV/dx, dy = -lr dV/dy spiral away from the equilibrium (0, 0).

    Example: gantool game-sim --x 2 --y 2

    Compare: gantool game-sim -u simgd,altgd,extragradient,cgd --plot xy.png

    Sweep: gantool game-sim -u simgd,ogda --sweep-lr 0.01:1:100 --format csv

    Phase diagram: gantool game-sim -g dirac-gan --loss rpgan --regularizer r1+r2
    -u simgd --sweep lr=0.05:1:20,gamma=0:1:20 --plot phase.png

    Details, theory and output formats: docs/game-sim.md.
    """
    from gantool.game import parse

    parse.choice(output_format, FORMATS, "--format")
    figures = (plot, animate, plot_eigenvalues)
    if "-" in figures and output_format != "table":
        raise UsageError(f"--format {output_format} and a figure on '-' cannot share stdout")
    from gantool import api

    result = api.game_sim(
        x, y, game=game, update=update, lr=lr, lr_x=lr_x, lr_y=lr_y, steps_x=steps_x,
        steps=steps, tol=tol, matrix=matrix, a=a, b=b, c=c, mix=mix, loss=loss,
        regularizer=regularizer, gamma=gamma, noise_std=noise_std,
        consensus_gamma=consensus_gamma, beta=beta, sga_lambda=sga_lambda,
        sga_align=sga_align, lookahead_base=lookahead_base, lookahead_k=lookahead_k,
        lookahead_alpha=lookahead_alpha, plot=plot, animate=animate,
        plot_eigenvalues=plot_eigenvalues, force=force, sweep_lr=sweep_lr, sweep=sweep,
    )
    # The tables go to stderr when a figure's bytes take stdout.
    stream = sys.stderr if output_format == "table" and "-" in figures else sys.stdout
    stream.write(result.text(output_format))
