"""Benchmark: whole-process start-up of gantool against `python -c "import numpy, typer, rich"`.

    python bench/bench_startup.py [--repeats 15]

Each command runs `repeats` times as a fresh process, interleaved (one of each in turn), so a
busy machine slows all of them alike. Printed per command: the median and minimum wall time,
the median user+system CPU time of the child (resource.getrusage(RUSAGE_CHILDREN) before and
after; less sensitive to other load than wall time), and both as ratios to the baseline.
Target (issue 14): `gantool game-sim --x 2 --y 2` within 1.3x of the baseline.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

BASELINE = 'python -c "import numpy, typer, rich"'


def gantool() -> list[str]:
    """The installed console script beside this interpreter, else `python -m gantool`."""
    script = Path(sys.executable).parent / "gantool"
    found = str(script) if script.exists() else shutil.which("gantool")
    return [found] if found else [sys.executable, "-m", "gantool"]


def timed(command: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, user + system CPU seconds) of one run of `command`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed: {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()

    commands = {
        BASELINE: [sys.executable, "-c", "import numpy, typer, rich"],
        "gantool game-sim --x 2 --y 2": [*gantool(), "game-sim", "--x", "2", "--y", "2"],
        "gantool --help": [*gantool(), "--help"],
        # References that split game-sim's time: what any command costs (typer building the
        # app), and the baseline's pieces.
        "(ref) gantool list game": [*gantool(), "list", "game"],
        '(ref) python -c "import typer, rich"': [sys.executable, "-c", "import typer, rich"],
    }
    # game-sim sets OPENBLAS_NUM_THREADS=1 for itself; give the baseline the same.
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    env.pop("COLUMNS", None)
    # Users run from byte-compiled modules (pip compiles them at install, Python caches them on
    # first import); with PYTHONDONTWRITEBYTECODE set, every run would compile gantool's source.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    for command in commands.values():  # warm the file cache and the .pyc files once
        timed(command, env)
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            wall, cpu = timed(command, env)
            walls[name].append(wall)
            cpus[name].append(cpu)

    base_wall = statistics.median(walls[BASELINE])
    base_cpu = statistics.median(cpus[BASELINE])
    print(f"start-up, {args.repeats} interleaved runs of each command "
          f"(ratios against {BASELINE})")
    print(f"  {'command':<38} {'median wall':>11} {'min wall':>9} {'ratio':>6}   "
          f"{'median cpu':>10} {'ratio':>6}")
    for name in commands:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:<38} {wall * 1000:8.0f} ms {min(walls[name]) * 1000:6.0f} ms "
              f"{wall / base_wall:5.2f}x   {cpu * 1000:7.0f} ms {cpu / base_cpu:5.2f}x")


if __name__ == "__main__":
    main()
