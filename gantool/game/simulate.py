"""Building a game and its optimizers from options, running them, and sweeping the step size."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gantool import registry
from gantool.errors import UsageError
from gantool.game import analysis, parse, stability
from gantool.game.fields import Game
from gantool.game.updates import Optimizer

# The command-line flag of each factory keyword, for error messages.
GAME_FLAGS = {"matrix": "--matrix", "a": "--a", "b": "--b", "c": "--c", "mix": "--mix",
              "loss": "--loss",
              "regularizer": "--regularizer", "gamma": "--gamma", "noise_std": "--noise-std"}
OPTIMIZER_FLAGS = {"gamma": "--consensus-gamma", "beta": "--beta", "steps_x": "--steps-x",
                   "lam": "--sga-lambda", "align": "--sga-align", "base": "--lookahead-base",
                   "k": "--lookahead-k",
                   "alpha": "--lookahead-alpha"}
MAX_VALUES = 50_000_000  # trajectory floats kept in memory (400 MB): refuse bigger runs


def build_game(name: str, options: dict) -> Game:
    """The registered game `name`, given the options the user set (None = not set)."""
    entry = registry.get("game", name)
    given = {k: v for k, v in options.items() if v is not None}
    for key in given.keys() - set(entry.options()):  # said with the flag's name, not the kwarg's
        raise UsageError(f"{GAME_FLAGS.get(key, key)} does not apply to the {name} game")
    return registry.create("game", name, **given)


def build_optimizers(names: list[str], options: dict) -> list[tuple[str, Optimizer]]:
    """The registered optimizers, each given the options it takes among those set."""
    entries = [registry.get("optimizer", name) for name in names]
    given = {k: v for k, v in options.items() if v is not None}
    for key in given:
        if not any(key in e.options() for e in entries):
            takers = [e.name for e in registry.entries("optimizer") if key in e.options()]
            raise UsageError(
                f"{OPTIMIZER_FLAGS.get(key, key)} applies only to optimizer {', '.join(takers)}"
            )
    return [
        (e.name, registry.create("optimizer", e.name,
                                 **{k: v for k, v in given.items() if k in e.options()}))
        for e in entries
    ]


def step_sizes(game: Game, lr: float, lr_x: float | None, lr_y: float | None) -> np.ndarray:
    """One step size per coordinate, (d,): x's is lr_x, y's is lr_y, each lr where not set."""
    x_lr = lr if lr_x is None else lr_x
    y_lr = lr if lr_y is None else lr_y
    return np.array([x_lr] * game.nx + [y_lr] * game.ny, dtype=float)


def start_point(game: Game, x_text: str, y_text: str) -> np.ndarray:
    """The start (x, y) stacked; a single number fills every coordinate of a vector player."""
    parts = []
    for text, size, option in ((x_text, game.nx, "--x"), (y_text, game.ny, "--y")):
        values = parse.number_list(text, option)
        if len(values) == 1:
            values = values * size
        elif len(values) != size:
            raise UsageError(
                f"{option} has {len(values)} numbers but this game's player has {size} "
                f"coordinate{'s' if size > 1 else ''}"
            )
        parts.extend(values)
    return np.array(parts, dtype=float)


@dataclass
class Run:
    """One optimizer's run from the start point."""

    name: str
    params: dict
    trajectory: np.ndarray  # (steps + 1, d)
    distances: np.ndarray  # (steps + 1,)
    verdict: str
    spectral_radius: float | None
    steps_to_tol: int | None
    growth_per_step: float | None
    eigenvalues: np.ndarray | None  # of the linearised update at the equilibrium
    stable_lr: list | None  # closed-form step sizes where it contracts, None where none derived


@dataclass
class Simulation:
    game: Game
    start: np.ndarray
    lr: float
    steps: int
    tol: float
    runs: list[Run]
    summary: str
    lr_x: float
    lr_y: float


def check_size(steps: int, width: int) -> None:
    if steps * width > MAX_VALUES:
        raise UsageError(
            f"--steps {steps} would keep {steps * width:,} numbers in memory; "
            f"use at most {MAX_VALUES // width:,} steps here"
        )


def simulate(game: Game, optimizers, start: np.ndarray, lr: float, steps: int,
             tol: float, lr_x: float | None = None, lr_y: float | None = None) -> Simulation:
    """Run each optimizer from `start` for `steps` steps of size `lr`, and judge each run."""
    check_size(steps, game.dim * len(optimizers))
    J = game.equilibrium_jacobian()
    lrs = step_sizes(game, lr, lr_x, lr_y)[None]
    one_lr = lrs[0, 0] == lrs[0, -1]  # the closed-form ranges are for one step size
    runs = []
    for name, optimizer in optimizers:
        traj = optimizer.run(game, start[None], lrs, steps)[:, 0]
        with np.errstate(all="ignore"):  # a diverged run holds inf; that is its result
            distances = game.distance(traj)
            eigenvalues = optimizer.eigenvalues(J, game.nx, lrs)
            radius = optimizer.spectral_radius(J, game.nx, lrs)
        runs.append(Run(
            name=name,
            params=optimizer.params,
            trajectory=traj,
            distances=distances,
            verdict=str(analysis.with_linearisation(
                analysis.verdicts(distances[:, None], tol), radius, distances[-1:], tol)[0]),
            spectral_radius=None if radius is None else float(radius[0]),
            steps_to_tol=analysis.steps_to_tol(distances, tol),
            growth_per_step=analysis.growth_per_step(distances),
            eigenvalues=None if eigenvalues is None else eigenvalues[0],
            stable_lr=stability.stable_lr(optimizer, J, game.nx) if one_lr else None,
        ))
    summary = analysis.summary_line(game.name, game.label, lr, runs)
    return Simulation(game, start, lr, steps, tol, runs, summary,
                      float(lrs[0, 0]), float(lrs[0, -1]))


@dataclass
class SweepRow:
    """One optimizer over every swept step size (arrays of length N)."""

    name: str
    params: dict
    lrs: np.ndarray
    final_distance: np.ndarray
    spectral_radius: np.ndarray | None
    verdicts: np.ndarray


def sweep(game: Game, optimizers, start: np.ndarray, lrs: np.ndarray, steps: int,
          tol: float, lr_x: float | None = None, lr_y: float | None = None) -> list[SweepRow]:
    """Every step size at once: each optimizer advances all len(lrs) copies in one batch.
    A fixed lr_x or lr_y replaces the swept value for that player."""
    check_size(steps, game.dim * len(lrs))
    J = game.equilibrium_jacobian()
    coordinate_lrs = np.stack([step_sizes(game, lr, lr_x, lr_y) for lr in lrs])
    rows = []
    for name, optimizer in optimizers:
        traj = optimizer.run(game, np.broadcast_to(start, (len(lrs), game.dim)), coordinate_lrs,
                             steps)
        with np.errstate(all="ignore"):  # diverged runs hold inf; that is their result
            distances = game.distance(traj)  # (steps + 1, N)
            radius = optimizer.spectral_radius(J, game.nx, coordinate_lrs)
        rows.append(SweepRow(
            name=name,
            params=optimizer.params,
            lrs=lrs,
            final_distance=distances[-1],
            spectral_radius=radius,
            verdicts=analysis.with_linearisation(
                analysis.verdicts(distances, tol), radius, distances[-1], tol),
        ))
    return rows
