"""`gantool game-sim`: play a two-player minimax game with gradient methods and see what happens.

Thin: parse and check options, call gantool.game, print. numpy is imported inside the command,
scipy only for the `flow` optimizer and matplotlib only for --plot/--animate.
"""

from __future__ import annotations

import os
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
    optimizer: str = typer.Option(
        "simgd", "--optimizer", "-o",
        help="One name or a comma list: simgd, altgd, ogda, extragradient, consensus, "
        "negative-momentum, adam, flow.",
    ),
    lr: float = typer.Option(0.1, "--lr", help="Step size (> 0)."),
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
    loss: str = typer.Option(
        None, "--loss",
        help="dirac-gan: standard, non-saturating or wasserstein [default: standard].",
        show_default=False,
    ),
    regularizer: str = typer.Option(
        None, "--regularizer",
        help="dirac-gan: none, r1, r2, gradient-penalty or instance-noise [default: none].",
        show_default=False,
    ),
    gamma: float = typer.Option(
        None, "--gamma", help="dirac-gan: strength of r1, r2, gradient-penalty [default: 1].",
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
    output_format: str = typer.Option("table", "--format", help="table, csv or json (on stdout)."),
    plot: str = typer.Option(
        None, "--plot", help="Write a PNG: trajectories over the update field, distance per step.",
        show_default=False,
    ),
    animate: str = typer.Option(
        None, "--animate", help="Write a GIF of the trajectories.", show_default=False
    ),
    force: bool = typer.Option(False, "--force", help="Let --plot / --animate overwrite a file."),
    sweep_lr: str = typer.Option(
        None, "--sweep-lr",
        help="START:STOP:N: run N step sizes at once; report per lr the final distance, "
        "spectral radius and verdict.",
        show_default=False,
    ),
) -> None:
    """Simulate gradient methods on a two-player minimax game (the lecture's x*y by default).

    Player A holds x and maximises V, player B holds y and minimises it; the lecture's
    simultaneous steps dx = +lr dV/dx, dy = -lr dV/dy spiral away from the equilibrium (0, 0).

    Example: gantool game-sim --x 2 --y 2

    Compare: gantool game-sim -o simgd,altgd,extragradient --plot xy.png

    Sweep: gantool game-sim -o simgd,ogda --sweep-lr 0.01:1:100 --format csv

    Details, theory and output formats: docs/game-sim.md.
    """
    # The matrices here are at most a few dozen wide; OpenBLAS's thread pool would cost more
    # to start (hundreds of ms) than all the linear algebra in a run.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from gantool.game import parse

    parse.choice(output_format, FORMATS, "--format")
    parse.positive(lr, "--lr")
    parse.positive(tol, "--tol")
    if steps <= 0:
        raise UsageError(f"--steps must be at least 1, got {steps}")
    spec = parse.sweep_spec(sweep_lr) if sweep_lr is not None else None
    _check_outputs(plot, animate, spec, output_format, force)
    names = parse.name_list(optimizer, "--optimizer")

    from gantool.game import simulate

    the_game = simulate.build_game(game, {
        "matrix": matrix, "a": a, "b": b, "c": c, "loss": loss, "regularizer": regularizer,
        "gamma": gamma, "noise_std": noise_std,
    })
    optimizers = simulate.build_optimizers(names, {"gamma": consensus_gamma, "beta": beta})
    start = simulate.start_point(the_game, x, y)
    to_stdout = "-" not in (plot, animate)
    import numpy as np

    # A diverging run overflows to inf by design; the verdict reports it, warnings would be noise.
    with np.errstate(all="ignore"):
        if spec is None:
            _simulate(the_game, optimizers, start, lr, steps, tol, output_format, plot, animate,
                      to_stdout)
        else:
            _sweep(the_game, optimizers, start, spec, steps, tol, output_format, plot, to_stdout)


def _check_outputs(plot, animate, spec, output_format, force) -> None:
    from gantool.game.parse import check_target

    if plot is not None:
        check_target(plot, ".png", "--plot", force)
    if animate is not None:
        check_target(animate, ".gif", "--animate", force)
        if spec is not None:
            raise UsageError("--animate draws one run; it cannot be combined with --sweep-lr")
    if plot == "-" and animate == "-":
        raise UsageError("--plot - and --animate - cannot both write to stdout")
    if "-" in (plot, animate) and output_format != "table":
        raise UsageError(f"--format {output_format} and a figure on '-' cannot share stdout")


def _print(renderables: list, to_stdout: bool) -> None:
    from rich.console import Console

    stream = sys.stdout if to_stdout else sys.stderr
    # Piped into a file, a table squeezed to 80 columns would cut numbers short.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    console = Console(file=stream, width=160 if wide else None, soft_wrap=wide)
    for item in renderables:
        console.print(item)


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _simulate(game, optimizers, start, lr, steps, tol, output_format, plot, animate, to_stdout):
    from gantool.game import report, simulate

    sim = simulate.simulate(game, optimizers, start, lr, steps, tol)
    if output_format == "csv":
        sys.stdout.write(report.trajectory_csv(sim))
    elif output_format == "json":
        sys.stdout.write(report.simulation_json(sim))
    else:
        _print(report.simulation_tables(sim), to_stdout)
    if plot is not None:
        from gantool.game import plots

        plots.plot_simulation(sim, plot)
        if plot != "-":
            _note(f"wrote {plot}")
    if animate is not None:
        from gantool.game import plots

        plots.animate_simulation(sim, animate)
        if animate != "-":
            _note(f"wrote {animate}")


def _sweep(game, optimizers, start, spec, steps, tol, output_format, plot, to_stdout):
    import numpy as np

    from gantool.game import report, simulate

    lrs = np.linspace(spec.start, spec.stop, spec.n)
    rows = simulate.sweep(game, optimizers, start, lrs, steps, tol)
    if output_format == "csv":
        sys.stdout.write(report.sweep_csv(rows))
    elif output_format == "json":
        sys.stdout.write(report.sweep_json(game, start, steps, tol, spec, rows))
    else:
        _print(report.sweep_tables(game, steps, rows), to_stdout)
    if plot is not None:
        from gantool.game import plots

        plots.plot_sweep(game, rows, plot)
        if plot != "-":
            _note(f"wrote {plot}")
