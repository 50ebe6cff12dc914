"""Judging runs: verdicts, steps to tolerance, growth per step, and the one-line summary."""

from __future__ import annotations

import math

import numpy as np

# Judging a run by its distance to the equilibrium, in quarters of the run: compare the largest
# distance in the last quarter with that in the first (the overall trend) and with that in the
# third (is it still moving at the end?). Using maxima makes the oscillation of altgd-like runs
# harmless; the second test catches runs that settle on a limit cycle after shrinking or growing.
CYCLE_BAND = 0.02  # overall change within +/- 2%: it cycles
END_BAND = CYCLE_BAND / 3  # a steady geometric trend that passes CYCLE_BAND also passes this
VERDICTS = ("converges", "cycles", "diverges")


def verdicts(distances: np.ndarray, tol: float) -> np.ndarray:
    """converges / cycles / diverges for each run; distances has shape (steps + 1, B)."""
    steps = len(distances) - 1
    window = max(1, steps // 4)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        first = distances[: window + 1].max(axis=0)
        third = distances[-2 * window : -window].max(axis=0) if steps >= 2 else first
        last = distances[-window:].max(axis=0)
        overall = np.where(first > 0, last / np.where(first > 0, first, 1.0), np.inf)
        end = np.where(third > 0, last / np.where(third > 0, third, 1.0), np.inf)
    result = np.full(distances.shape[1:], "cycles", dtype=object)
    result[(overall < 1 - CYCLE_BAND) & (end < 1 - END_BAND)] = "converges"
    growing = ((overall > 1 + CYCLE_BAND) & (end > 1 + END_BAND)) | (end > 1 + CYCLE_BAND)
    result[growing] = "diverges"
    result[distances[-1] <= tol] = "converges"
    result[~np.isfinite(distances).all(axis=0)] = "diverges"
    return result


def with_linearisation(verdict: np.ndarray, radius: np.ndarray | None, final: np.ndarray,
                       tol: float) -> np.ndarray:
    """A shrinking run cannot be converging to an equilibrium that repels (spectral radius > 1):
    it is heading for something else, such as a limit cycle, so call it "cycles"."""
    if radius is None:
        return verdict
    verdict = verdict.copy()
    repels = np.asarray(radius) > 1 + 1e-9
    verdict[(verdict == "converges") & repels & (np.asarray(final) > tol)] = "cycles"
    return verdict


def jacobian_split(J: np.ndarray | None) -> dict | None:
    """J = S + A: S = (J + J^T)/2 is the potential part (a gradient field), A = (J - J^T)/2 the
    Hamiltonian part (a rotation). Eigenvalues of J with Re < 0 attract the flow."""
    if J is None:
        return None
    return {"J": J, "S": 0.5 * (J + J.T), "A": 0.5 * (J - J.T), "eigenvalues": np.linalg.eigvals(J)}


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
