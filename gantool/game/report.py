"""Rendering simulations and sweeps: CSV and JSON for scripts, plain text tables for people.

Functions here build text and never print: the command decides where output goes. The tables
are plain aligned text, not rich's: importing and laying out rich tables cost game-sim about a
tenth of its start-up, and plain columns read the same on a terminal, in a pipe and in a file.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

from gantool.game import analysis
from gantool.game.simulate import Simulation, SweepRow

EXCERPT_ROWS = 11  # evenly spaced trajectory rows shown in the table view (plus steps 1-3)
SWEEP_ROWS = 25  # step sizes shown per optimizer in the table view
RADIUS_TOL = 1e-9  # eigenvalues of a pure rotation come out as 1 +/- a few ulps


def columns(game) -> list[str]:
    """Coordinate column names: x, y for one number per player, else x0, x1, ..., y0, ..."""
    if game.is_planar:
        return ["x", "y"]
    return [f"x{i}" for i in range(game.nx)] + [f"y{i}" for i in range(game.ny)]


def _number(value) -> float | None:
    """A float for JSON; non-finite values (a diverged run) become null."""
    value = float(value)
    return value if math.isfinite(value) else None


# ---- CSV ----

def trajectory_csv(sim: Simulation) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["optimizer", "step", *columns(sim.game)])
    for run in sim.runs:
        for step, point in enumerate(run.trajectory.tolist()):
            writer.writerow([run.name, step, *point])
    return out.getvalue()


def sweep_csv(rows: list[SweepRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["optimizer", "lr", "final_distance", "spectral_radius", "verdict"])
    for row in rows:
        radius = row.spectral_radius if row.spectral_radius is not None else [None] * len(row.lrs)
        for lr, dist, rho, verdict in zip(
            row.lrs.tolist(), row.final_distance.tolist(), list(radius), row.verdicts, strict=True
        ):
            writer.writerow([row.name, lr, dist, "" if rho is None else float(rho), verdict])
    return out.getvalue()


# ---- JSON ----

def simulation_json(sim: Simulation) -> str:
    names = columns(sim.game)
    document = {
        "game": sim.game.describe(),
        "start": dict(zip(names, sim.start.tolist(), strict=True)),
        "lr": sim.lr,
        "lr_x": sim.lr_x,
        "lr_y": sim.lr_y,
        "steps": sim.steps,
        "jacobian": jacobian_json(sim.game),
        "tol": sim.tol,
        "columns": names,
        "optimizers": [
            {
                "name": run.name,
                "params": run.params,
                "final": dict(zip(names, map(_number, run.trajectory[-1]), strict=True)),
                "distance_start": _number(run.distances[0]),
                "distance_end": _number(run.distances[-1]),
                "growth_per_step": run.growth_per_step,
                "verdict": run.verdict,
                "spectral_radius": run.spectral_radius,
                "steps_to_tol": run.steps_to_tol,
                "eigenvalues": _complex_list(run.eigenvalues),
                "stable_lr": run.stable_lr,
                "trajectory": [[_number(v) for v in point] for point in run.trajectory],
            }
            for run in sim.runs
        ],
        "summary": sim.summary,
    }
    return json.dumps(document, allow_nan=False) + "\n"


def _complex_list(values) -> list[list[float]] | None:
    """Complex numbers as [re, im] pairs (JSON has no complex type)."""
    if values is None:
        return None
    return [[_number(v.real), _number(v.imag)] for v in np.asarray(values, dtype=complex)]


def jacobian_json(game) -> dict | None:
    """The game's Jacobian at the equilibrium and its potential / Hamiltonian split."""
    split = analysis.jacobian_split(game.equilibrium_jacobian())
    if split is None:
        return None
    return {
        "matrix": split["J"].tolist(),
        "symmetric": split["S"].tolist(),
        "antisymmetric": split["A"].tolist(),
        "eigenvalues": _complex_list(split["eigenvalues"]),
    }


def sweep_json(game, start, steps: int, tol: float, spec, rows: list[SweepRow],
               step_sizes: dict) -> str:
    document = {
        "game": game.describe(),
        "start": dict(zip(columns(game), start.tolist(), strict=True)),
        **step_sizes,
        "steps": steps,
        "tol": tol,
        "sweep": {"start": spec.start, "stop": spec.stop, "n": spec.n},
        "optimizers": [
            {
                "name": row.name,
                "params": row.params,
                "lr": row.lrs.tolist(),
                "final_distance": [_number(v) for v in row.final_distance],
                "spectral_radius": None if row.spectral_radius is None
                else [_number(v) for v in row.spectral_radius],
                "verdict": list(row.verdicts),
                "converging_lr": stable_ranges(row.lrs, row.verdicts == "converges"),
            }
            for row in rows
        ],
    }
    return json.dumps(document, allow_nan=False) + "\n"


def stable_ranges(lrs: np.ndarray, mask: np.ndarray) -> list[list[float]]:
    """The runs of consecutive swept step sizes where mask holds, as [first, last] pairs."""
    ranges, first = [], None
    for i, ok in enumerate(np.asarray(mask, dtype=bool)):
        if ok and first is None:
            first = i
        if first is not None and (not ok or i == len(lrs) - 1):
            last = i if ok else i - 1
            ranges.append([float(lrs[first]), float(lrs[last])])
            first = None
    return ranges


# ---- tables for people ----

def _fmt(value) -> str:
    if value is None:
        return "-"
    value = float(value)
    return f"{value:.4g}" if math.isfinite(value) else "inf"


def player_label(game, axis: str) -> str:
    """'x' or, where the coordinate has a meaning, 'x = psi (discriminator)'."""
    label = game.x_label if axis == "x" else game.y_label
    return axis if label == axis else f"{axis} = {label}"


def _precise(value) -> str:
    """Factors near 1 (growth, spectral radius) need more digits than distances."""
    if value is None:
        return "-"
    return f"{float(value):.6g}" if math.isfinite(float(value)) else "inf"


def _point(game, values) -> str:
    values = [_fmt(v) for v in values]
    if game.is_planar:
        return f"({values[0]}, {values[1]})"
    return f"x=({', '.join(values[: game.nx])}) y=({', '.join(values[game.nx:])})"


def excerpt_steps(steps: int) -> list[int]:
    """Steps shown in the table: the first few, then evenly spaced, always the last."""
    chosen = set(range(min(steps, 3) + 1))
    chosen.update(np.linspace(0, steps, EXCERPT_ROWS).round().astype(int).tolist())
    return sorted(chosen)


def text_table(title: str, headers: list[str], rows: list[list[str]],
               left: tuple[str, ...] = ()) -> str:
    """A titled table of aligned columns; columns named in `left` are left-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.ljust(w) if h in left else c.rjust(w)
                         for c, w, h in zip(cells, widths, headers, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([title, line(headers), rule, *(line(r) for r in rows)])


def simulation_tables(sim: Simulation) -> list[str]:
    game = sim.game
    title = (
        f"{game.name}: {game.label}  ·  {player_label(game, 'x')} maximises, "
        f"{player_label(game, 'y')} minimises  ·  start {_point(game, sim.start)}  ·  "
        f"lr {sim.lr:g}  ·  {sim.steps} steps  ·  equilibrium at the origin"
    )
    single = len(sim.runs) == 1
    headers = ["step"]
    for run in sim.runs:
        if single:
            headers += columns(game)
        headers.append(f"{run.name} distance" if not single else "distance")
    rows = []
    for step in excerpt_steps(sim.steps):
        cells = [str(step)]
        for run in sim.runs:
            if single:
                cells += [_fmt(v) for v in run.trajectory[step]]
            cells.append(_fmt(run.distances[step]))
        rows.append(cells)
    trajectory = text_table("trajectory (distance = distance to the equilibrium)", headers, rows)

    headers = ["optimizer", "final point", "start dist.", "end dist.", "growth/step", "verdict",
               "spectral radius", f"steps to {sim.tol:g}"]
    rows = [[run.name, _point(game, run.trajectory[-1]), _fmt(run.distances[0]),
             _fmt(run.distances[-1]), _precise(run.growth_per_step), run.verdict,
             _precise(run.spectral_radius),
             "not reached" if run.steps_to_tol is None else str(run.steps_to_tol)]
            for run in sim.runs]
    summary = text_table("summary", headers, rows, left=("optimizer", "verdict"))
    return [title, trajectory, summary, "\n".join(analysis_lines(sim)), sim.summary]


def _matrix(M) -> str:
    return "[" + "; ".join(", ".join(_fmt(v) for v in row) for row in np.asarray(M)) + "]"


def _complex(value) -> str:
    value = complex(value)
    if abs(value.imag) < 1e-12:
        return _precise(value.real)
    return f"{_precise(value.real)}{'+' if value.imag >= 0 else '-'}{_precise(abs(value.imag))}i"


def _lr_range(stable: dict | None) -> str:
    if stable is None:
        return "no closed form"
    if stable["lr_max"] is None:
        return f"every lr > 0 ({stable['formula']})"
    if stable["lr_max"] == 0:
        return f"no lr ({stable['formula']})"
    return f"lr < {_precise(stable['lr_max'])} ({stable['formula']})"


def analysis_lines(sim: Simulation) -> list[str]:
    """The linearisation at the equilibrium, in words: J = S + A, the update's eigenvalues,
    and the closed-form range of step sizes that contract."""
    split = analysis.jacobian_split(sim.game.equilibrium_jacobian())
    if split is None:
        return ["No linearisation: the game's field is not differentiable at the equilibrium."]
    lines = [
        f"Game Jacobian at the equilibrium J = S + A: S (potential) = {_matrix(split['S'])}, "
        f"A (Hamiltonian) = {_matrix(split['A'])}; "
        f"eigenvalues of J: {', '.join(_complex(v) for v in split['eigenvalues'])}."
    ]
    for run in sim.runs:
        if run.eigenvalues is None:
            lines.append(f"{run.name}: no fixed linear update (it depends on its history).")
            continue
        values = ", ".join(_complex(v) for v in run.eigenvalues)
        lines.append(f"{run.name}: update eigenvalues {values}; contracts for "
                     f"{_lr_range(run.stable_lr)}.")
    return lines


def _ranges(ranges: list[list[float]]) -> str:
    if not ranges:
        return "none of the swept step sizes"
    return "lr in " + ", ".join(f"[{_fmt(a)}, {_fmt(b)}]" for a, b in ranges)


def sweep_tables(game, steps: int, rows: list[SweepRow]) -> list[str]:
    out = [f"{game.name}: {game.label}  ·  {steps} steps per step size"]
    for row in rows:
        n = len(row.lrs)
        count = n if n <= 2 * SWEEP_ROWS else SWEEP_ROWS
        shown = sorted(set(np.linspace(0, n - 1, count).round().astype(int).tolist()))
        caption = None if len(shown) == n else (
            f"{len(shown)} of {n} step sizes; --format csv lists all"
        )
        cells = []
        for i in shown:
            rho = None if row.spectral_radius is None else row.spectral_radius[i]
            cells.append([_fmt(row.lrs[i]), _fmt(row.final_distance[i]), _precise(rho),
                          row.verdicts[i]])
        table = text_table(row.name, ["lr", "final distance", "spectral radius", "verdict"],
                           cells, left=("verdict",))
        out.append(table if caption is None else f"{table}\n({caption})")
        converging = stable_ranges(row.lrs, row.verdicts == "converges")
        line = f"{row.name} converges for {_ranges(converging)}"
        if row.spectral_radius is not None:
            # Rotations (altgd, flow on x*y) have radius 1 up to rounding; do not call them < 1.
            contracting = stable_ranges(row.lrs, row.spectral_radius < 1 - RADIUS_TOL)
            line += f"; its spectral radius is < 1 for {_ranges(contracting)}"
        out.append(f"{line}.")
    return out


# ---- phase diagrams ----

PHASE_SYMBOLS = {"converges": ".", "cycles": "o", "diverges": "X"}


def phase_csv(axes, grids) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["optimizer", axes[0].name, axes[1].name, "final_distance",
                     "spectral_radius", "verdict"])
    for grid in grids:
        for i, first in enumerate(axes[0].values):
            for j, second in enumerate(axes[1].values):
                rho = "" if grid.spectral_radius is None else float(grid.spectral_radius[i, j])
                writer.writerow([grid.name, first, second, float(grid.final_distance[i, j]), rho,
                                 grid.verdicts[i, j]])
    return out.getvalue()


def phase_json(game, start, steps: int, tol: float, axes, grids, step_sizes: dict) -> str:
    def table(values):
        return [[_number(v) for v in row] for row in values]

    document = {
        "game": {"name": game.name, "formula": game.formula, **unswept_params(game, axes)},
        "start": dict(zip(columns(game), start.tolist(), strict=True)),
        **step_sizes,
        "steps": steps,
        "tol": tol,
        "axes": [{"name": a.name, "start": a.start, "stop": a.stop, "n": a.n, "values": a.values}
                 for a in axes],
        "optimizers": [
            {
                "name": grid.name,
                "params": grid.params,
                "final_distance": table(grid.final_distance),
                "spectral_radius": None if grid.spectral_radius is None
                else table(grid.spectral_radius),
                "verdict": [list(row) for row in grid.verdicts],
            }
            for grid in grids
        ],
    }
    return json.dumps(document, allow_nan=False) + "\n"


def unswept_params(game, axes) -> dict:
    """The game's parameters that the sweep does not vary (a, b, c follow a swept mix)."""
    swept = {axis.name for axis in axes}
    if "mix" in swept:
        swept |= {"a", "b", "c"}
    return {k: v for k, v in game.params.items() if k.replace("_", "-") not in swept}


def phase_label(game, axes) -> str:
    """The game and its parameters that are not swept."""
    fixed = ", ".join(f"{k}={_short(v)}" for k, v in unswept_params(game, axes).items())
    formula = "" if game.formula == "Dirac-GAN" else f" {game.formula}"
    return f"{game.name}{formula}{f' ({fixed})' if fixed else ''}"


def _short(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def phase_maps(game, steps: int, axes, grids) -> list[str]:
    """A text phase diagram per rule: the second parameter up, the first across."""
    first, second = axes
    legend = ", ".join(f"{symbol} {verdict}" for verdict, symbol in PHASE_SYMBOLS.items())
    out = [f"{phase_label(game, axes)}  ·  {steps} steps per cell  ·  {legend}"]
    for grid in grids:
        counts = {v: int((grid.verdicts == v).sum()) for v in PHASE_SYMBOLS}
        lines = [f"{grid.name}: " + ", ".join(f"{n} {v}" for v, n in counts.items())]
        for j in reversed(range(second.n)):
            row = "".join(PHASE_SYMBOLS[v] for v in grid.verdicts[:, j])
            lines.append(f"  {second.name} {_fmt(second.values[j]):>8} | {row}")
        lines.append(f"  {'':>{len(second.name) + 9}} +-" + "-" * first.n)
        lines.append(f"  {first.name} from {_fmt(first.start)} to {_fmt(first.stop)} "
                     f"({first.n} values, left to right)")
        out.append("\n".join(lines))
    return out
