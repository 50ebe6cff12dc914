"""Rendering simulations and sweeps: CSV and JSON for scripts, rich tables for people.

Functions here build text or rich renderables and never print: the command decides where
output goes.
"""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np

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
        "steps": sim.steps,
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
                "trajectory": [[_number(v) for v in point] for point in run.trajectory],
            }
            for run in sim.runs
        ],
        "summary": sim.summary,
    }
    return json.dumps(document, allow_nan=False) + "\n"


def sweep_json(game, start, steps: int, tol: float, spec, rows: list[SweepRow]) -> str:
    document = {
        "game": game.describe(),
        "start": dict(zip(columns(game), start.tolist(), strict=True)),
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


def simulation_tables(sim: Simulation) -> list:
    from rich.table import Table

    game = sim.game
    title = (
        f"{game.name}: {game.label}  ·  {player_label(game, 'x')} maximises, "
        f"{player_label(game, 'y')} minimises  ·  start {_point(game, sim.start)}  ·  "
        f"lr {sim.lr:g}  ·  {sim.steps} steps  ·  equilibrium at the origin"
    )
    trajectory = Table(title="trajectory (distance = distance to the equilibrium)",
                       header_style="bold")
    trajectory.add_column("step", justify="right")
    single = len(sim.runs) == 1
    for run in sim.runs:
        if single:
            for name in columns(game):
                trajectory.add_column(name, justify="right")
        trajectory.add_column(f"{run.name} distance" if not single else "distance",
                              justify="right")
    for step in excerpt_steps(sim.steps):
        cells = [str(step)]
        for run in sim.runs:
            if single:
                cells += [_fmt(v) for v in run.trajectory[step]]
            cells.append(_fmt(run.distances[step]))
        trajectory.add_row(*cells)

    summary = Table(title="summary", header_style="bold")
    for name in ("optimizer", "final point", "start dist.", "end dist.", "growth/step",
                 "verdict", "spectral radius", f"steps to {sim.tol:g}"):
        summary.add_column(name, justify="left" if name in ("optimizer", "verdict") else "right")
    for run in sim.runs:
        summary.add_row(
            run.name, _point(game, run.trajectory[-1]), _fmt(run.distances[0]),
            _fmt(run.distances[-1]), _precise(run.growth_per_step), run.verdict,
            _precise(run.spectral_radius),
            "not reached" if run.steps_to_tol is None else str(run.steps_to_tol),
        )
    return [title, trajectory, summary, f"[bold]{sim.summary}[/bold]"]


def _ranges(ranges: list[list[float]]) -> str:
    if not ranges:
        return "none of the swept step sizes"
    return "lr in " + ", ".join(f"[{_fmt(a)}, {_fmt(b)}]" for a, b in ranges)


def sweep_tables(game, steps: int, rows: list[SweepRow]) -> list:
    from rich.table import Table

    out = [f"{game.name}: {game.label}  ·  {steps} steps per step size"]
    for row in rows:
        n = len(row.lrs)
        count = n if n <= 2 * SWEEP_ROWS else SWEEP_ROWS
        shown = sorted(set(np.linspace(0, n - 1, count).round().astype(int).tolist()))
        caption = None if len(shown) == n else (
            f"{len(shown)} of {n} step sizes; --format csv lists all"
        )
        table = Table(title=row.name, caption=caption, header_style="bold")
        for name in ("lr", "final distance", "spectral radius", "verdict"):
            table.add_column(name, justify="left" if name == "verdict" else "right")
        for i in shown:
            rho = None if row.spectral_radius is None else row.spectral_radius[i]
            table.add_row(
                _fmt(row.lrs[i]), _fmt(row.final_distance[i]), _precise(rho), row.verdicts[i]
            )
        out.append(table)
        converging = stable_ranges(row.lrs, row.verdicts == "converges")
        line = f"{row.name} converges for {_ranges(converging)}"
        if row.spectral_radius is not None:
            # Rotations (altgd, flow on x*y) have radius 1 up to rounding; do not call them < 1.
            contracting = stable_ranges(row.lrs, row.spectral_radius < 1 - RADIUS_TOL)
            line += f"; its spectral radius is < 1 for {_ranges(contracting)}"
        out.append(f"[bold]{line}.[/bold]")
    return out
