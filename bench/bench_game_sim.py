"""Benchmark: the vectorised lr sweep of game-sim against a plain Python loop, in one run.

    python bench/bench_game_sim.py [--lrs 1000] [--steps 1000]

Prints the time of the sweep (all step sizes advanced together with numpy) for each discrete
optimizer, and for simgd the ratio against the same computation written as plain Python loops
over step sizes and steps. Target: the 1000 x 1000 simgd sweep under one second.
"""

from __future__ import annotations

import argparse
import cmath
import math
import time

import numpy as np

from gantool.game import simulate

OPTIMIZERS = ("simgd", "altgd", "ogda", "extragradient", "consensus", "negative-momentum", "adam",
              "sga", "cgd", "lookahead")


def plain_python_simgd(lrs, steps: int, tol: float = 1e-3):
    """The baseline: the same sweep as plain Python loops, one step size and one step at a time.

    It produces what the sweep reports for simgd on V = x*y from (2, 2): the final distance,
    the verdict (same rule as gantool.game.analysis) and the spectral radius of I + lr J
    (eigenvalues 1 +/- i lr, from the 2x2 characteristic polynomial).
    """
    finals, verdicts, radii = [], [], []
    window = max(1, steps // 4)
    for lr in lrs:
        x, y = 2.0, 2.0
        distances = [math.hypot(x, y)]
        for _ in range(steps):
            x, y = x + lr * y, y - lr * x
            distances.append(math.hypot(x, y))
        early, late = max(distances[: window + 1]), max(distances[-window:])
        ratio = late / early
        verdict = "converges" if ratio < 0.98 else "diverges" if ratio > 1.02 else "cycles"
        if distances[-1] <= tol:
            verdict = "converges"
        finals.append(distances[-1])
        verdicts.append(verdict)
        # det(M - mu I) for M = [[1, lr], [-lr, 1]]: mu^2 - 2 mu + (1 + lr^2).
        root = cmath.sqrt(4 - 4 * (1 + lr * lr))
        radii.append(max(abs((2 + root) / 2), abs((2 - root) / 2)))
    return finals, verdicts, radii


def best_of(repeats: int, work):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lrs", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    game = simulate.build_game("bilinear", {})
    start = np.array([2.0, 2.0])
    lrs = np.linspace(0.001, 1.0, args.lrs)
    print(f"lr sweep: {args.lrs} step sizes x {args.steps} steps on V = x*y "
          f"(vectorised: best of {args.repeats})")

    baseline, expected = best_of(1, lambda: plain_python_simgd(lrs.tolist(), args.steps))
    print(f"  plain Python loops, simgd           {baseline:8.3f} s")
    for name in OPTIMIZERS:
        optimizers = simulate.build_optimizers([name], {})
        seconds, rows = best_of(
            args.repeats, lambda o=optimizers: simulate.sweep(game, o, start, lrs, args.steps, 1e-3)
        )
        line = f"  vectorised sweep, {name:<18}{seconds:8.3f} s"
        if name == "simgd":
            row = rows[0]
            same = (np.allclose(row.final_distance, expected[0], rtol=1e-9)
                    and list(row.verdicts) == expected[1]
                    and np.allclose(row.spectral_radius, expected[2], rtol=1e-12))
            line += f"   {baseline / seconds:5.1f}x faster than the loops (same results: {same})"
        print(line)


if __name__ == "__main__":
    main()
