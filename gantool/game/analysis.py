"""Judging runs: verdicts, steps to tolerance, growth per step, and the one-line summary."""

from __future__ import annotations

import math

import numpy as np

# A run "cycles" when the largest distance over its last quarter is within this relative band
# of the largest distance over its first quarter (oscillations of altgd stay inside it).
CYCLE_BAND = 0.02
VERDICTS = ("converges", "cycles", "diverges")


def verdicts(distances: np.ndarray, tol: float) -> np.ndarray:
    """converges / cycles / diverges for each run; distances has shape (steps + 1, B)."""
    steps = len(distances) - 1
    window = max(1, steps // 4)
    with np.errstate(invalid="ignore", over="ignore"):
        early = distances[: window + 1].max(axis=0)
        late = distances[-window:].max(axis=0)
        ratio = np.where(early > 0, late / np.where(early > 0, early, 1.0), np.inf)
    final = distances[-1]
    result = np.full(final.shape, "cycles", dtype=object)
    result[ratio < 1 - CYCLE_BAND] = "converges"
    result[ratio > 1 + CYCLE_BAND] = "diverges"
    result[final <= tol] = "converges"
    result[~np.isfinite(distances).all(axis=0)] = "diverges"
    return result


def steps_to_tol(distances: np.ndarray, tol: float) -> int | None:
    """The first step at which the distance is within tol, or None if the run never got there."""
    hits = np.flatnonzero(distances <= tol)
    return int(hits[0]) if len(hits) else None


def growth_per_step(distances: np.ndarray) -> float | None:
    """The geometric mean factor by which the distance changed per step over the run."""
    start, end, steps = float(distances[0]), float(distances[-1]), len(distances) - 1
    if start <= 0 or not math.isfinite(end) or steps == 0:
        return None
    return (end / start) ** (1.0 / steps)


def summary_line(game_name: str, label: str, lr: float, runs: list) -> str:
    """One sentence saying what the run shows (runs: objects with name, verdict, distances)."""
    sentences = []
    simgd = next((r for r in runs if r.name == "simgd"), None)
    if simgd is not None and game_name == "bilinear":
        factor = math.sqrt(1 + lr * lr)
        sentences.append(
            f"simgd spirals outward on {label}: its distance to the Nash equilibrium (0, 0) "
            f"grows by sqrt(1 + lr^2) = {factor:.6g} per step "
            f"({_fmt(simgd.distances[0])} -> {_fmt(simgd.distances[-1])} in "
            f"{len(simgd.distances) - 1} steps), so it does not converge."
        )
        others = [r for r in runs if r is not simgd]
    else:
        others = runs
    groups = {v: [r.name for r in others if r.verdict == v] for v in VERDICTS}
    words = {"converges": "converge", "cycles": "cycle", "diverges": "diverge"}
    if len(others) == 1:
        run = others[0]
        sentences.append(
            f"{run.name} {run.verdict} on {label} "
            f"(distance to the equilibrium {_fmt(run.distances[0])} -> {_fmt(run.distances[-1])})."
        )
    elif others:
        listed = [f"{words[v]}: {', '.join(names)}" for v, names in groups.items() if names]
        prefix = "Others" if simgd is not None and game_name == "bilinear" else f"On {label},"
        sentences.append(f"{prefix} " + "; ".join(listed) + ".")
    return " ".join(sentences)


def _fmt(value: float) -> str:
    return f"{float(value):.4g}" if math.isfinite(float(value)) else "inf"
