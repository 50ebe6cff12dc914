"""Phase diagrams: run every rule on a grid of two parameters and judge each cell.

Step sizes (lr, lr-x, lr-y) are advanced together in one batch, as in the lr sweep; any other
parameter changes the game or the rule, so each of its values builds them anew.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gantool.game import analysis, simulate
from gantool.game.parse import STEP_SIZES, Axis


@dataclass
class PhaseGrid:
    """One rule over the grid: arrays of shape (len(first axis), len(second axis))."""

    name: str
    params: dict
    final_distance: np.ndarray
    spectral_radius: np.ndarray | None
    verdicts: np.ndarray


def phase_diagram(build: Callable, options: dict, axes: tuple[Axis, Axis], steps: int,
                  tol: float) -> tuple[object, list[PhaseGrid]]:
    """build(options) -> (game, [(name, optimizer)], start); options are keyed like --sweep."""
    shape = (axes[0].n, axes[1].n)
    batched = [k for k, axis in enumerate(axes) if axis.name in STEP_SIZES]
    looped = [k for k in range(2) if k not in batched]
    grids: dict[str, PhaseGrid] = {}
    game = None
    for fixed in itertools.product(*(range(axes[k].n) for k in looped)):
        chosen = dict(options)
        chosen.update({axes[k].name: axes[k].values[i] for k, i in zip(looped, fixed, strict=True)})
        game, optimizers, start = build(chosen)
        cells = _cells(shape, looped, fixed)
        lrs = np.stack([_step_sizes(game, chosen, axes, cell) for cell in cells])
        simulate.check_size(steps, game.dim * len(cells))
        J = game.equilibrium_jacobian()
        index = tuple(np.array(c) for c in zip(*cells, strict=True))
        for name, optimizer in optimizers:
            if name not in grids:
                grids[name] = PhaseGrid(name, dict(optimizer.params), np.full(shape, np.inf),
                                        None if J is None else np.full(shape, np.nan),
                                        np.full(shape, "", dtype=object))
            grid = grids[name]
            # A swept rule parameter differs between builds: keep only those common to all.
            grid.params = {k: v for k, v in grid.params.items() if optimizer.params.get(k) == v}
            traj = optimizer.run(game, np.broadcast_to(start, (len(cells), game.dim)), lrs, steps)
            with np.errstate(all="ignore"):  # diverged runs hold inf; that is their result
                distances = game.distance(traj)
                radius = optimizer.spectral_radius(J, game.nx, lrs)
            grid.final_distance[index] = distances[-1]
            grid.verdicts[index] = analysis.with_linearisation(
                analysis.verdicts(distances, tol), radius, distances[-1], tol)
            if radius is None:
                grid.spectral_radius = None
            elif grid.spectral_radius is not None:
                grid.spectral_radius[index] = radius
    return game, list(grids.values())


def _cells(shape, looped, fixed) -> list[tuple[int, int]]:
    """Every (i, j) of the grid whose looped coordinates equal `fixed`."""
    ranges = [range(n) for n in shape]
    for k, i in zip(looped, fixed, strict=True):
        ranges[k] = range(i, i + 1)
    return list(itertools.product(*ranges))


def _step_sizes(game, options: dict, axes, cell) -> np.ndarray:
    chosen = dict(options)
    chosen.update({axis.name: axis.values[i] for axis, i in zip(axes, cell, strict=True)
                   if axis.name in STEP_SIZES})
    return simulate.step_sizes(game, chosen["lr"], chosen["lr-x"], chosen["lr-y"])
