"""SPACE.toml: which `gantool train` options the search varies, and over what.

    loss = ["non-saturating", "hinge"]           # a list: a categorical choice
    lr-g = {low = 1e-4, high = 2e-3, log = true}  # a table: a float range (int if both ints)
    spectral-norm = [true, false]                 # booleans: --spectral-norm / --no-spectral-norm
    "arch-opt.width" = [32, 48, 64]               # --arch-opt width=... (and update-opt.KEY)

Keys are checked against the real train options (options.py); each candidate value is checked
with train's own --dry-run before any trial runs. Sub-options (arch-opt.KEY, update-opt.KEY)
are checked by the architecture or rule when the trial builds it: a bad one fails that trial.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gantool.errors import UsageError
from gantool.tomlfile import read_toml
from gantool.sweep import options as train_opts

SUB_OPTIONS = ("arch-opt", "update-opt")  # repeatable KEY=VALUE options of gantool train
SCALARS = (bool, int, float, str)


@dataclass
class Dimension:
    key: str  # "lr-g", or "arch-opt.width"
    choices: list | None = None  # a categorical choice ...
    low: float | None = None  # ... or a range
    high: float | None = None
    log: bool = False
    integer: bool = False
    candidates: list = field(default_factory=list)  # the values --dry-run checks up front

    def suggest(self, trial) -> Any:
        """This dimension's value for an Optuna trial (the sampler decides)."""
        if self.choices is not None:
            return trial.suggest_categorical(self.key, self.choices)
        if self.integer:
            return trial.suggest_int(self.key, int(self.low), int(self.high), log=self.log)
        return trial.suggest_float(self.key, self.low, self.high, log=self.log)

    def describe(self) -> dict:
        if self.choices is not None:
            return {"choices": self.choices}
        return {"low": self.low, "high": self.high, "log": self.log, "int": self.integer}


def read_space(path: str | Path) -> dict[str, Any]:
    """The raw TOML of SPACE.toml, or one UsageError."""
    raw = read_toml(path, "--space: file")
    if not raw:
        raise UsageError(f"--space: {path} names no option to search over")
    return raw


def parse_space(raw: dict[str, Any], where: str = "SPACE.toml") -> list[Dimension]:
    """Dimensions from SPACE.toml's table, checked against the real train options."""
    known = train_opts.train_options()
    dims = []
    for key, value in raw.items():
        here = f"{where}: {key}"
        head, dot, sub = key.partition(".")
        if dot:
            if head not in SUB_OPTIONS or not sub.isidentifier():
                raise UsageError(f"{here}: a dotted key is arch-opt.KEY or update-opt.KEY "
                                 "(an architecture's or update rule's own option)")
            dims.append(_dimension(key, value, None, here))
            continue
        if key == "seed":
            raise UsageError(f"{here}: the leaders are re-run at other seeds; fix --seed "
                             "after -- instead of searching over it")
        if key in SUB_OPTIONS:
            raise UsageError(f"{here}: give each of its keys as \"{key}.KEY\" = [...]")
        if key == "config":
            raise UsageError(f"{here}: give --config FILE after -- (the fixed options)")
        dims.append(_dimension(key, value, train_opts.check_name(key, known, where), here))
    return dims


def _dimension(key: str, value: Any, option, here: str) -> Dimension:
    kind = _kind(option)
    if isinstance(value, list):
        if not value or not all(isinstance(v, SCALARS) for v in value):
            raise UsageError(f"{here}: a choice is a non-empty list of numbers, strings or "
                             f"booleans, not {value!r}")
        if len({json.dumps(v) for v in value}) != len(value):
            raise UsageError(f"{here}: the choices {value!r} repeat a value")
        for v in value:
            _check_value(v, kind, here)
        return Dimension(key, choices=list(value), candidates=list(value))
    if isinstance(value, dict):
        return _range(key, value, kind, here)
    raise UsageError(f"{here}: give a list of choices [a, b, ...] or a range "
                     f"{{low = ..., high = ..., log = true}}, not {value!r}")


def _kind(option) -> str:
    """What values an option takes: bool, int, float, str, or any (sub-options)."""
    if option is None:
        return "any"
    if option.is_flag:
        return "bool"
    if option.multiple:
        return "multiple"
    return {"int": "int", "integer": "int", "float": "float"}.get(option.type.name, "str")


def _check_value(value: Any, kind: str, here: str) -> None:
    ok = {"any": True, "bool": isinstance(value, bool),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, (int, float)) and not isinstance(value, bool),
          "str": isinstance(value, str), "multiple": False}[kind]
    if not ok:
        wanted = {"bool": "true or false", "int": "an integer", "float": "a number",
                  "str": "a string", "multiple": "KEY = [...] as a dotted key"}[kind]
        raise UsageError(f"{here}: {value!r} is not {wanted}")


def _range(key: str, table: dict, kind: str, here: str) -> Dimension:
    unknown = set(table) - {"low", "high", "log"}
    if unknown or "low" not in table or "high" not in table:
        raise UsageError(f"{here}: a range is {{low = ..., high = ..., log = true|false}}, "
                         f"not {table!r}")
    low, high, log = table["low"], table["high"], table.get("log", False)
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not all(math.isfinite(v) for v in (low, high)):
        raise UsageError(f"{here}: low and high must be numbers, not {low!r} and {high!r}")
    if kind not in ("int", "float", "any"):
        raise UsageError(f"{here}: --{key} takes {kind} values: give a list of choices")
    integer = isinstance(low, int) and isinstance(high, int)
    if kind == "int" and not integer:
        raise UsageError(f"{here}: --{key} takes integers: give integer low and high")
    if not low < high:
        raise UsageError(f"{here}: low ({low}) must be below high ({high})")
    if not isinstance(log, bool) or (log and low <= 0):
        raise UsageError(f"{here}: log = true needs low > 0 (and log is true or false)")
    return Dimension(key, low=low, high=high, log=log, integer=integer, candidates=[low, high])


def render(values: dict[str, Any]) -> list[str]:
    """One trial's values -> gantool train arguments (flags as --x / --no-x)."""
    known = train_opts.train_options()
    args: list[str] = []
    for key, value in values.items():
        head, dot, sub = key.partition(".")
        if dot:
            args += [f"--{head}", f"{sub}={_toml_value(value)}"]
        elif isinstance(value, bool):
            option = known[key]
            args.append(option.opts[0] if value else option.secondary_opts[0])
        else:
            args += [f"--{key}", repr(value) if isinstance(value, float) else str(value)]
    return args


def _toml_value(value: Any) -> str:
    """How --arch-opt KEY=VALUE reads it back (train parses VALUE as a TOML value)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: "batch" stays a string
    return repr(value)


def check_candidates(dims: list[Dimension], fixed: list[str]) -> None:
    """Every candidate value (each choice; a range's ends) with the fixed options passes
    train's --dry-run; else one UsageError naming the key and value."""
    for dim in dims:
        for value in dim.candidates:
            try:
                train_opts.dry_run([*fixed, *render({dim.key: value})])
            except UsageError as exc:
                raise UsageError(f"SPACE.toml: {dim.key} = {value!r}: {exc}") from None
