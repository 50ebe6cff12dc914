"""Reading a TOML file of options (train's --config, sweep's --space) as one UsageError line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gantool.errors import UsageError


def read_toml(path: str | Path, what: str) -> dict[str, Any]:
    """The file's table; `what` names it in errors: '{what} not found: PATH' and
    '{what} PATH is not valid TOML: ...'."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{what} not found: {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{what} {path} is not valid TOML: {exc}") from None
