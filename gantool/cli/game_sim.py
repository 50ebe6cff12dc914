"""`gantool game-sim`: play a two-player minimax game with gradient methods and see what happens.

Thin: parse and check options, call gantool.game, print. numpy is imported inside the command,
scipy only for the `flow` optimizer and matplotlib only for --plot/--animate.
"""

# No `from __future__ import annotations` here: typer reads the option annotations with
# typing.get_type_hints, which compiles every string annotation at each start (~10 ms here).
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
        "alignment (Balduzzi et al.'s Algorithm 1), or keep it fixed [default: fixed].",
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
    # The matrices here are at most a few dozen wide; OpenBLAS's thread pool would cost more
    # to start (hundreds of ms) than all the linear algebra in a run.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from gantool.game import parse

    parse.choice(output_format, FORMATS, "--format")
    parse.positive(lr, "--lr")
    for value, option in ((lr_x, "--lr-x"), (lr_y, "--lr-y")):
        if value is not None:
            parse.positive(value, option)
    parse.positive(tol, "--tol")
    if steps <= 0:
        raise UsageError(f"--steps must be at least 1, got {steps}")
    if sweep_lr is not None and sweep is not None:
        raise UsageError("--sweep-lr and --sweep cannot be combined; --sweep can vary lr")
    spec = parse.sweep_spec(sweep_lr) if sweep_lr is not None else None
    axes = parse.sweep_axes(sweep) if sweep is not None else None
    _check_outputs(plot, animate, plot_eigenvalues, spec or axes, output_format, force)
    names = parse.name_list(update, "--update")
    # Every option by the name --sweep uses for it, so a phase diagram can vary any of them.
    options = {
        "lr": lr, "lr-x": lr_x, "lr-y": lr_y, "matrix": matrix, "a": a, "b": b, "c": c,
        "mix": mix, "loss": loss, "regularizer": regularizer, "gamma": gamma,
        "noise-std": noise_std, "consensus-gamma": consensus_gamma, "beta": beta,
        "steps-x": steps_x, "sga-lambda": sga_lambda, "sga-align": sga_align,
        "lookahead-base": lookahead_base,
        "lookahead-k": lookahead_k, "lookahead-alpha": lookahead_alpha,
    }

    def build(chosen: dict):
        return _build(game, names, x, y, chosen)

    to_stdout = "-" not in (plot, animate, plot_eigenvalues)
    import numpy as np

    # A diverging run overflows to inf by design; the verdict reports it, warnings would be noise.
    with np.errstate(all="ignore"):
        if axes is not None:
            _phase(build, options, axes, steps, tol, output_format, plot, to_stdout)
            return
        the_game, optimizers, start = build(options)
        if spec is None:
            _simulate(the_game, optimizers, start, options, steps, tol, output_format,
                      (plot, animate, plot_eigenvalues), to_stdout)
        else:
            _sweep(the_game, optimizers, start, spec, options, steps, tol, output_format, plot,
                   to_stdout)


def _build(game: str, names: list[str], x: str, y: str, options: dict):
    """The game, the rules and the start point for one set of options."""
    from gantool.game import simulate

    the_game = simulate.build_game(game, {
        "matrix": options["matrix"], "a": options["a"], "b": options["b"], "c": options["c"],
        "mix": options["mix"], "loss": options["loss"], "regularizer": options["regularizer"],
        "gamma": options["gamma"], "noise_std": options["noise-std"],
    })
    optimizers = simulate.build_optimizers(names, {
        "gamma": options["consensus-gamma"], "beta": options["beta"],
        "steps_x": options["steps-x"], "lam": options["sga-lambda"],
        "align": options["sga-align"],
        "base": options["lookahead-base"], "k": options["lookahead-k"],
        "alpha": options["lookahead-alpha"],
    })
    return the_game, optimizers, simulate.start_point(the_game, x, y)


def _check_outputs(plot, animate, plot_eigenvalues, sweeping, output_format, force) -> None:
    from gantool.game.parse import check_target

    if plot is not None:
        check_target(plot, ".png", "--plot", force)
    for target, suffix, option in ((animate, ".gif", "--animate"),
                                   (plot_eigenvalues, ".png", "--plot-eigenvalues")):
        if target is None:
            continue
        check_target(target, suffix, option, force)
        if sweeping:
            raise UsageError(f"{option} draws one run; it cannot be combined with a sweep")
    targets = [t for t in (plot, animate, plot_eigenvalues) if t is not None]
    if targets.count("-") > 1:
        raise UsageError("only one figure can be written to stdout ('-')")
    if len(set(targets)) < len(targets):
        raise UsageError("two figures cannot be written to the same file")
    if "-" in targets and output_format != "table":
        raise UsageError(f"--format {output_format} and a figure on '-' cannot share stdout")


def _print(blocks: list[str], to_stdout: bool) -> None:
    stream = sys.stdout if to_stdout else sys.stderr
    stream.write("\n\n".join(blocks) + "\n")


def _note(message: str) -> None:
    print(message, file=sys.stderr)


def _simulate(game, optimizers, start, options, steps, tol, output_format, figures, to_stdout):
    from gantool.game import report, simulate

    sim = simulate.simulate(game, optimizers, start, options["lr"], steps, tol,
                            options["lr-x"], options["lr-y"])
    if output_format == "csv":
        sys.stdout.write(report.trajectory_csv(sim))
    elif output_format == "json":
        sys.stdout.write(report.simulation_json(sim))
    else:
        _print(report.simulation_tables(sim), to_stdout)
    plot, animate, eigenvalues = figures
    if plot is None and animate is None and eigenvalues is None:
        return
    from gantool.game import plots

    for target, draw in ((plot, plots.plot_simulation), (animate, plots.animate_simulation),
                         (eigenvalues, plots.plot_eigenvalues)):
        if target is not None:
            draw(sim, target)
            if target != "-":
                _note(f"wrote {target}")


def _sweep(game, optimizers, start, spec, options, steps, tol, output_format, plot, to_stdout):
    import numpy as np

    from gantool.game import report, simulate

    lrs = np.linspace(spec.start, spec.stop, spec.n)
    rows = simulate.sweep(game, optimizers, start, lrs, steps, tol, options["lr-x"],
                          options["lr-y"])
    if output_format == "csv":
        sys.stdout.write(report.sweep_csv(rows))
    elif output_format == "json":
        fixed = {"lr_x": options["lr-x"], "lr_y": options["lr-y"]}  # null: the swept lr
        sys.stdout.write(report.sweep_json(game, start, steps, tol, spec, rows, fixed))
    else:
        _print(report.sweep_tables(game, steps, rows), to_stdout)
    if plot is not None:
        from gantool.game import plots

        plots.plot_sweep(game, rows, plot)
        if plot != "-":
            _note(f"wrote {plot}")


def _phase(build, options, axes, steps, tol, output_format, plot, to_stdout):
    from gantool.game import phase, report

    game, grids = phase.phase_diagram(build, options, axes, steps, tol)
    start = build(options)[2]
    if output_format == "csv":
        sys.stdout.write(report.phase_csv(axes, grids))
    elif output_format == "json":
        swept = {axis.name for axis in axes}
        fixed = {name.replace("-", "_"): None if name in swept else options[name]
                 for name in ("lr", "lr-x", "lr-y")}
        sys.stdout.write(report.phase_json(game, start, steps, tol, axes, grids, fixed))
    else:
        _print(report.phase_maps(game, steps, axes, grids), to_stdout)
    if plot is not None:
        from gantool.game import plots

        plots.plot_phase(game, axes, grids, plot)
        if plot != "-":
            _note(f"wrote {plot}")
