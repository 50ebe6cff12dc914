"""Benchmark: whole-process start-up of gantool against `python -c "import typer, rich"`.

    python bench/bench_startup.py [--repeats 9]

Each command is run `repeats` times as a fresh process (interleaved, so a busy machine slows
all of them alike); the median wall time and its ratio to the baseline are printed.
Target: `gantool --help` and `gantool game-sim --x 2 --y 2` within 1.5x of the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def gantool() -> list[str]:
    """The installed console script beside this interpreter, else `python -m gantool`."""
    script = Path(sys.executable).parent / "gantool"
    found = str(script) if script.exists() else shutil.which("gantool")
    return [found] if found else [sys.executable, "-m", "gantool"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()

    commands = {
        'python -c "import typer, rich"': [sys.executable, "-c", "import typer, rich"],
        "gantool --help": [*gantool(), "--help"],
        "gantool game-sim --x 2 --y 2": [*gantool(), "game-sim", "--x", "2", "--y", "2"],
        # References that split game-sim's time: any command that parses options (typer
        # validates them with pydantic), and numpy's import, which game-sim needs.
        "(ref) gantool list game": [*gantool(), "list", "game"],
        '(ref) python -c "import numpy"': [sys.executable, "-c", "import numpy"],
    }
    # game-sim sets OPENBLAS_NUM_THREADS=1 for itself; give the numpy reference the same.
    env = {**os.environ, "COLUMNS": "160", "OPENBLAS_NUM_THREADS": "1"}
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.repeats):
        for name, command in commands.items():
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, env=env)
            times[name].append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"{name} failed: {done.stderr.decode()[-500:]}")

    baseline = statistics.median(times['python -c "import typer, rich"'])
    print(f"whole-process wall time, median of {args.repeats} runs each")
    for name, measured in times.items():
        median = statistics.median(measured)
        print(f"  {name:<32} {median * 1000:7.0f} ms   {median / baseline:5.2f}x baseline")


if __name__ == "__main__":
    main()
