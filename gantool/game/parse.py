"""Parsing game-sim's text options (numbers, vectors, matrices, sweep specs) with clear errors.

Pure Python on purpose: parsing happens before numpy is imported, and every bad value
becomes one UsageError line naming the option.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from pathlib import Path

from gantool.errors import UsageError


def finite_number(text: str, option: str) -> float:
    """One finite float; NaN, inf and non-numbers are refused."""
    try:
        value = float(text.strip())
    except ValueError:
        raise UsageError(f"{option} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {text!r}")
    return value


def number_list(text: str, option: str) -> list[float]:
    """A comma-separated list of finite floats, e.g. '1,2' (one number is a list of one)."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise UsageError(f"{option} must be numbers separated by commas, got {text!r}")
    return [finite_number(part, option) for part in parts]


def matrix(text: str, option: str = "--matrix") -> list[list[float]]:
    """Rows separated by ';', entries by ',': '1,2;3,4' is [[1, 2], [3, 4]]."""
    rows = [number_list(row, option) for row in text.split(";")]
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise UsageError(
            f"{option} rows must all have the same length, got {text!r} "
            f"(row lengths {', '.join(str(len(r)) for r in rows)})"
        )
    return rows


def positive(value: float, option: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{option} must be a finite number > 0, got {value}")
    return value


def finite(value: float, option: str) -> float:
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {value}")
    return value


@dataclass(frozen=True)
class SweepSpec:
    start: float
    stop: float
    n: int


def sweep_spec(text: str) -> SweepSpec:
    """'START:STOP:N': N step sizes evenly spaced from START to STOP inclusive, all > 0."""
    parts = text.split(":")
    if len(parts) != 3:
        raise UsageError(f"--sweep-lr must be START:STOP:N (e.g. 0.01:1:100), got {text!r}")
    start = finite_number(parts[0], "--sweep-lr START")
    stop = finite_number(parts[1], "--sweep-lr STOP")
    try:
        n = int(parts[2])
    except ValueError:
        raise UsageError(f"--sweep-lr N must be a whole number, got {parts[2]!r}") from None
    if n < 1:
        raise UsageError(f"--sweep-lr N must be at least 1, got {n}")
    if start <= 0 or stop <= 0:
        raise UsageError(f"--sweep-lr step sizes must be > 0, got {text!r}")
    if stop < start:
        raise UsageError(f"--sweep-lr STOP must be >= START, got {text!r}")
    if n == 1 and stop != start:
        raise UsageError(f"--sweep-lr with N=1 needs START == STOP, got {text!r}")
    return SweepSpec(start, stop, n)


def name_list(text: str, option: str) -> list[str]:
    """'simgd,altgd' -> ['simgd', 'altgd']; empty items and repeats are refused."""
    names = [part.strip() for part in text.split(",")]
    if any(not name for name in names):
        raise UsageError(f"{option} must be names separated by commas, got {text!r}")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"{option} names {', '.join(repeated)} more than once")
    return names


def check_target(target: str, suffix: str, option: str, force: bool = False) -> None:
    """Refuse a wrong extension, a missing folder or an existing file before any work is done."""
    if target == "-":
        return
    path = Path(target)
    if path.suffix.lower() != suffix:
        raise UsageError(f"{option} must name a {suffix} file, got {target!r}")
    if not path.parent.is_dir():
        raise UsageError(f"{option}: folder {str(path.parent)!r} does not exist")
    if path.is_dir():
        raise UsageError(f"{option}: {target!r} is a folder")
    if path.exists() and not force:
        raise UsageError(f"{option}: {target} exists; use --force to overwrite it")


def choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    """`value` if it is one of `allowed`, else a UsageError naming them and the closest one."""
    if value in allowed:
        return value
    close = difflib.get_close_matches(value, allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown {option} {value!r}.{hint} Known: {', '.join(allowed)}")


# The parameters --sweep can vary: the step sizes (advanced together in one batch) and every
# game or rule option, each named by its flag without the dashes.
STEP_SIZES = ("lr", "lr-x", "lr-y")
WHOLE_NUMBERS = ("steps-x", "lookahead-k")
SWEEPABLE = (*STEP_SIZES, "a", "b", "c", "mix", "gamma", "noise-std", "consensus-gamma", "beta",
             "sga-lambda", "lookahead-alpha", *WHOLE_NUMBERS)


@dataclass(frozen=True)
class Axis:
    name: str
    start: float
    stop: float
    n: int

    @property
    def values(self) -> list[float]:
        """N evenly spaced values from start to stop inclusive (ints for whole-number options)."""
        if self.n == 1:
            values = [self.start]
        else:
            step = (self.stop - self.start) / (self.n - 1)
            values = [self.start + i * step for i in range(self.n - 1)] + [self.stop]
        return [round(v) for v in values] if self.name in WHOLE_NUMBERS else values


def sweep_axes(text: str) -> tuple[Axis, Axis]:
    """'lr=0.05:0.5:20,gamma=0:2:20': two parameters, each START:STOP:N (inclusive)."""
    items = [item.strip() for item in text.split(",")]
    if len(items) != 2 or any("=" not in item for item in items):
        raise UsageError(f"--sweep must be NAME=START:STOP:N,NAME=START:STOP:N, got {text!r}")
    axes = tuple(_axis(*item.split("=", 1)) for item in items)
    if axes[0].name == axes[1].name:
        raise UsageError(f"--sweep names {axes[0].name} twice")
    return axes


def _axis(name: str, spec: str) -> Axis:
    name = choice(name.strip(), SWEEPABLE, "--sweep parameter")
    parts = spec.split(":")
    if len(parts) != 3:
        raise UsageError(f"--sweep {name} must be START:STOP:N, got {spec!r}")
    start = finite_number(parts[0], f"--sweep {name} START")
    stop = finite_number(parts[1], f"--sweep {name} STOP")
    try:
        n = int(parts[2])
    except ValueError:
        raise UsageError(f"--sweep {name} N must be a whole number, got {parts[2]!r}") from None
    if not 1 <= n <= 1000:
        raise UsageError(f"--sweep {name} N must be from 1 to 1000, got {n}")
    if stop < start or (n == 1 and stop != start):
        raise UsageError(f"--sweep {name} needs START <= STOP (equal when N is 1), got {spec!r}")
    if name in STEP_SIZES and start <= 0:
        raise UsageError(f"--sweep {name} step sizes must be > 0, got {spec!r}")
    axis = Axis(name, start, stop, n)
    if name in WHOLE_NUMBERS and any(v != round(v) for v in Axis("", start, stop, n).values):
        raise UsageError(f"--sweep {name} takes whole numbers; {spec!r} gives fractions")
    return axis
