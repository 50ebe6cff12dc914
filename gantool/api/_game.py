"""gantool.game_sim: a two-player minimax game played by gradient methods, as numbers.

One run from the start point gives each rule's trajectory (numpy arrays) and verdict; a
sweep of step sizes (sweep_lr) or a phase diagram (sweep) gives a verdict per cell. The
result prints as the command does (`text("table" | "csv" | "json")`) and draws its figure
(`plot()`, shown inline in Jupyter). numpy only: no torch.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from gantool.api._common import Picture, public
from gantool.errors import UsageError


@dataclass
class GameSim:
    """game_sim's result. kind is "simulation" (one run per rule), "sweep" (sweep_lr) or
    "phase" (sweep: two axes)."""

    kind: str
    game: object
    start: object  # numpy array: the start point (x then y)
    steps: int
    tol: float
    simulation: object = None  # gantool.game.simulate.Simulation
    rows: list = field(default_factory=list)  # sweep: one SweepRow per rule
    spec: object = None  # sweep: the lr range
    axes: tuple = ()  # phase: the two swept axes
    grids: list = field(default_factory=list)  # phase: one PhaseGrid per rule
    fixed: dict = field(default_factory=dict)  # the step sizes the json output records

    @property
    def trajectories(self) -> dict:
        """Each rule's trajectory: {name: array (steps + 1, dim)}, x's coordinates first."""
        return {run.name: run.trajectory for run in self._runs()}

    @property
    def distances(self) -> dict:
        """Each rule's distance to the equilibrium per step: {name: array (steps + 1,)}."""
        return {run.name: run.distances for run in self._runs()}

    @property
    def verdicts(self) -> dict:
        """{name: verdict}: a string per rule, or a numpy array per swept step size / cell."""
        if self.kind == "simulation":
            return {run.name: run.verdict for run in self._runs()}
        return {r.name: r.verdicts for r in (self.rows or self.grids)}

    @property
    def summary(self) -> str:
        """The one-line verdict the table ends with (simulation only)."""
        return self._require_simulation().summary

    def text(self, format: str = "table") -> str:
        """What `gantool game-sim --format FORMAT` prints: table, csv or json."""
        from gantool.game import parse, report

        parse.choice(format, ("table", "csv", "json"), "--format")
        if self.kind == "simulation":
            sim = self.simulation
            return {"csv": lambda: report.trajectory_csv(sim),
                    "json": lambda: report.simulation_json(sim),
                    "table": lambda: _blocks(report.simulation_tables(sim))}[format]()
        if self.kind == "sweep":
            return {"csv": lambda: report.sweep_csv(self.rows),
                    "json": lambda: report.sweep_json(self.game, self.start, self.steps,
                                                      self.tol, self.spec, self.rows,
                                                      self.fixed),
                    "table": lambda: _blocks(report.sweep_tables(self.game, self.steps,
                                                                 self.rows))}[format]()
        return {"csv": lambda: report.phase_csv(self.axes, self.grids),
                "json": lambda: report.phase_json(self.game, self.start, self.steps, self.tol,
                                                  self.axes, self.grids, self.fixed),
                "table": lambda: _blocks(report.phase_maps(self.game, self.steps, self.axes,
                                                           self.grids))}[format]()

    def plot(self, path: str | None = None) -> Picture:
        """The command's --plot figure (trajectories over the update field and the distance
        per step; a sweep's or phase diagram's map), as a Picture; written to `path` too."""
        from gantool.game import plots

        if self.kind == "simulation":
            draw = lambda target: plots.plot_simulation(self.simulation, target)  # noqa: E731
        elif self.kind == "sweep":
            draw = lambda target: plots.plot_sweep(self.game, self.rows, target)  # noqa: E731
        else:
            draw = lambda target: plots.plot_phase(self.game, self.axes, self.grids,  # noqa: E731
                                                   target)
        picture = Picture.from_drawing(_quiet(draw), f"game-sim {self.game.name}")
        if path is not None:
            picture.save(path)
        return picture

    def plot_eigenvalues(self, path: str | None = None) -> Picture:
        """The command's --plot-eigenvalues figure (simulation only)."""
        from gantool.game import plots

        sim = self._require_simulation()
        picture = Picture.from_drawing(_quiet(lambda t: plots.plot_eigenvalues(sim, t)),
                                       "update eigenvalues")
        if path is not None:
            picture.save(path)
        return picture

    def _repr_png_(self) -> bytes:
        return self.plot()._repr_png_()

    def __repr__(self) -> str:
        return f"GameSim({self.kind}, game={self.game.name!r}, rules={list(self.verdicts)})"

    def _runs(self):
        return self._require_simulation().runs

    def _require_simulation(self):
        if self.kind != "simulation":
            raise UsageError(f"this is a {self.kind}; trajectories, distances and the summary "
                             "belong to a single run (no sweep_lr or sweep)")
        return self.simulation


def _blocks(blocks: list[str]) -> str:
    return "\n\n".join(blocks) + "\n"


def _quiet(draw):
    """A drawing with numpy's overflow warnings off: a diverging run holds inf by design."""
    def quiet(target):
        import numpy as np

        with np.errstate(all="ignore"):
            draw(target)
    return quiet


@public
def game_sim(x: str | float = "2", y: str | float = "2", *, game: str = "bilinear",
             update: str | list[str] = "simgd", lr: float = 0.1, lr_x: float | None = None,
             lr_y: float | None = None, steps_x: int | None = None, steps: int = 100,
             tol: float = 1e-3, matrix: str | None = None, a: float | None = None,
             b: float | None = None, c: float | None = None, mix: float | None = None,
             loss: str | None = None, regularizer: str | None = None,
             gamma: float | None = None, noise_std: float | None = None,
             consensus_gamma: float | None = None, beta: float | None = None,
             sga_lambda: float | None = None, sga_align: bool | None = None,
             lookahead_base: str | None = None, lookahead_k: int | None = None,
             lookahead_alpha: float | None = None, plot: str | None = None,
             animate: str | None = None, plot_eigenvalues: str | None = None,
             force: bool = False, sweep_lr: str | None = None,
             sweep: str | None = None) -> GameSim:
    """Simulate gradient methods on a two-player minimax game (`gantool game-sim`); the
    lecture's x*y from (2, 2) by default.

    update: one rule, a comma list or a list (simgd, altgd, ogda, extragradient, consensus,
    negative-momentum, adam, flow, sga, cgd, lookahead). x and y: numbers, or '1,2' for
    matrix games. Every other option is the command's flag in snake_case (docs/game-sim.md).
    plot, animate and plot_eigenvalues write the command's figures to those files; the
    returned GameSim also draws them (`.plot()`) and holds the trajectories as arrays.
    """
    # The matrices here are at most a few dozen wide; OpenBLAS's thread pool would cost more
    # to start (hundreds of ms) than all the linear algebra in a run.
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from gantool.game import parse

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
    check_outputs(plot, animate, plot_eigenvalues, spec or axes, force)
    names = parse.name_list(update if isinstance(update, str) else ",".join(update),
                            "--update")
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
        return _build(game, names, str(x), str(y), chosen)

    import numpy as np

    # A diverging run overflows to inf by design; the verdict reports it, warnings would be noise.
    with np.errstate(all="ignore"):
        if axes is not None:
            result = _phase(build, options, axes, steps, tol)
        elif spec is None:
            result = _simulate(build(options), options, steps, tol)
        else:
            result = _sweep(build(options), spec, options, steps, tol)
        _write_figures(result, plot, animate, plot_eigenvalues)
    return result


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


def check_outputs(plot, animate, plot_eigenvalues, sweeping, force) -> None:
    """The figure targets: suffixes, existing files, one figure per file and on stdout."""
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


def _simulate(built, options, steps, tol) -> GameSim:
    from gantool.game import simulate

    game, optimizers, start = built
    sim = simulate.simulate(game, optimizers, start, options["lr"], steps, tol,
                            options["lr-x"], options["lr-y"])
    return GameSim("simulation", game, start, steps, tol, simulation=sim)


def _sweep(built, spec, options, steps, tol) -> GameSim:
    import numpy as np

    from gantool.game import simulate

    game, optimizers, start = built
    lrs = np.linspace(spec.start, spec.stop, spec.n)
    rows = simulate.sweep(game, optimizers, start, lrs, steps, tol, options["lr-x"],
                          options["lr-y"])
    fixed = {"lr_x": options["lr-x"], "lr_y": options["lr-y"]}  # null: the swept lr
    return GameSim("sweep", game, start, steps, tol, rows=rows, spec=spec, fixed=fixed)


def _phase(build, options, axes, steps, tol) -> GameSim:
    from gantool.game import phase

    game, grids = phase.phase_diagram(build, options, axes, steps, tol)
    start = build(options)[2]
    swept = {axis.name for axis in axes}
    fixed = {name.replace("-", "_"): None if name in swept else options[name]
             for name in ("lr", "lr-x", "lr-y")}
    return GameSim("phase", game, start, steps, tol, axes=axes, grids=grids, fixed=fixed)


def _write_figures(result: GameSim, plot, animate, eigenvalues) -> None:
    """The command's figure files ('-': the bytes on stdout); 'wrote FILE' on stderr."""
    from gantool.game import plots

    if result.kind == "simulation":
        draws = ((plot, lambda t: plots.plot_simulation(result.simulation, t)),
                 (animate, lambda t: plots.animate_simulation(result.simulation, t)),
                 (eigenvalues, lambda t: plots.plot_eigenvalues(result.simulation, t)))
    elif result.kind == "sweep":
        draws = ((plot, lambda t: plots.plot_sweep(result.game, result.rows, t)),)
    else:
        draws = ((plot, lambda t: plots.plot_phase(result.game, result.axes, result.grids, t)),)
    for target, draw in draws:
        if target is not None:
            draw(target)
            if target != "-":
                print(f"wrote {target}", file=sys.stderr)
